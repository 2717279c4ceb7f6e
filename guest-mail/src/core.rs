//! The operations, once: both the JSON `tools` export and the typed `mailbox` export call
//! these, so the two surfaces cannot drift apart.

use crate::bindings::exports::mcs::mail::mailbox::{Folder, Message, MessagePage, Outgoing, Sent};
use crate::bindings::exports::mcs::tools::tools::ToolError;
use crate::gmail::{self, Client};
use crate::mime::Draft;
use crate::query;

/// Every folder, sorted by name.
pub fn list_folders() -> Result<Vec<Folder>, ToolError> {
    Client::from_settings()?.list_folders()
}

/// Messages in `folder` (default INBOX).
pub fn list_messages(
    folder: Option<String>,
    limit: u32,
    page_token: Option<String>,
) -> Result<MessagePage, ToolError> {
    let folder = folder.unwrap_or_else(|| "INBOX".into());
    Client::from_settings()?.list_messages(Some(&folder), None, limit, page_token.as_deref())
}

/// Messages matching `criteria` (Gmail syntax; IMAP forms translated), in all mail unless a
/// folder is given.
pub fn search_messages(
    criteria: String,
    folder: Option<String>,
    limit: u32,
    page_token: Option<String>,
) -> Result<MessagePage, ToolError> {
    let q = query::to_gmail(&criteria);
    Client::from_settings()?.list_messages(
        folder.as_deref(),
        Some(&q),
        limit,
        page_token.as_deref(),
    )
}

/// One message.
pub fn fetch_message(uid: String, max_chars: u32) -> Result<Message, ToolError> {
    Client::from_settings()?.fetch_message(&uid, max_chars)
}

/// Moves `uid` from `source` (default INBOX) to `destination`.
pub fn move_message(
    uid: String,
    destination: String,
    source: Option<String>,
) -> Result<Vec<String>, ToolError> {
    let gmail = Client::from_settings()?;
    let to = gmail.label_id(&destination)?;
    if to == "TRASH" {
        return gmail.trash(&uid, false);
    }
    let from = gmail.label_id(source.as_deref().unwrap_or("INBOX"))?;
    let remove = if from == to { Vec::new() } else { vec![from] };
    gmail.modify(&uid, &[to], &remove)
}

/// Adds or removes IMAP-style flags or labels.
pub fn set_flags(uid: String, flags: Vec<String>, remove: bool) -> Result<Vec<String>, ToolError> {
    let gmail = Client::from_settings()?;
    let (mut add_ids, mut remove_ids) = (Vec::new(), Vec::new());
    let mut trash = None;
    for flag in &flags {
        let (to_add, to_remove) = if remove {
            (&mut remove_ids, &mut add_ids)
        } else {
            (&mut add_ids, &mut remove_ids)
        };
        match flag.to_ascii_lowercase().as_str() {
            "\\seen" | "seen" => to_remove.push("UNREAD".to_owned()),
            "\\flagged" | "flagged" => to_add.push("STARRED".to_owned()),
            "\\deleted" | "deleted" => trash = Some(!remove),
            "\\answered" | "\\draft" | "\\recent" => {
                return Err(ToolError::InvalidArguments(format!(
                    "Gmail has no {flag} flag; it marks messages answered when you reply \
                     (reply_message) and keeps drafts apart; use \\Seen, \\Flagged, \\Deleted or a folder name"
                )));
            }
            _ => to_add.push(gmail.label_id(flag)?),
        }
    }
    let mut labels = None;
    if !add_ids.is_empty() || !remove_ids.is_empty() {
        labels = Some(gmail.modify(&uid, &add_ids, &remove_ids)?);
    }
    match trash {
        Some(to_trash) => gmail.trash(&uid, !to_trash),
        None => Ok(labels.unwrap_or_default()),
    }
}

/// Moves `uid` to the trash.
pub fn trash_message(uid: String) -> Result<Vec<String>, ToolError> {
    Client::from_settings()?.trash(&uid, false)
}

/// Creates a folder.
pub fn create_folder(name: String) -> Result<Folder, ToolError> {
    if name.trim().is_empty() {
        return Err(ToolError::InvalidArguments(
            "a folder name must not be empty".into(),
        ));
    }
    Client::from_settings()?.create_folder(name.trim())
}

/// Sends a new message.
pub fn send_message(m: Outgoing) -> Result<Sent, ToolError> {
    if m.to.trim().is_empty() {
        return Err(ToolError::InvalidArguments(
            "\"to\" must name at least one recipient".into(),
        ));
    }
    let draft = Draft {
        to: m.to,
        cc: m.cc.filter(|s| !s.trim().is_empty()),
        bcc: m.bcc.filter(|s| !s.trim().is_empty()),
        reply_to: m.reply_to.filter(|s| !s.trim().is_empty()),
        subject: m.subject,
        text: m.text_body,
        html: m.html_body,
        boundary: gmail::boundary(),
        ..Draft::default()
    };
    Client::from_settings()?.send(&draft, None)
}

/// Replies in the thread of `uid`.
pub fn reply_message(
    uid: String,
    text: String,
    html: Option<String>,
    reply_all: bool,
) -> Result<Sent, ToolError> {
    Client::from_settings()?.reply(&uid, &text, html.as_deref(), reply_all)
}
