//! A stored message with what Gmail derives from it once: the parsed MIME tree, the snippet,
//! and the decoded, lowercased fields the search operators look at.

use super::mailbox::MailMessage;
use super::mime::{self, Part};
use super::text::{decode_words, snippet};

/// The decoded, lowercased text of a message that search looks at.
#[derive(Debug, Clone, Default)]
pub(super) struct Searchable {
    /// `From`.
    pub(super) from: String,
    /// `To`.
    pub(super) to: String,
    /// `Cc`.
    pub(super) cc: String,
    /// `Bcc`.
    pub(super) bcc: String,
    /// `Subject`.
    pub(super) subject: String,
    /// Subject, from and body text, what bare words are matched against.
    pub(super) all: String,
}

/// A message in the fake's store.
#[derive(Debug, Clone)]
pub(super) struct Stored {
    /// The message as given (its labels change as clients modify it).
    pub(super) message: MailMessage,
    /// `historyId` of the message's last change.
    pub(super) history_id: u64,
    /// The parsed MIME tree.
    pub(super) part: Part,
    /// Gmail's snippet (HTML-escaped).
    pub(super) snippet: String,
    /// What search looks at.
    pub(super) search: Searchable,
    /// Set by `trash`: whether the message was in INBOX then (so `untrash` restores it).
    pub(super) trashed_from_inbox: Option<bool>,
}

impl Stored {
    /// Parses and indexes `message`.
    pub(super) fn new(message: MailMessage, history_id: u64) -> Self {
        let part = mime::parse(&message.raw);
        let field = |name: &str| decode_words(part.header(name).unwrap_or_default());
        let body = part.body_text();
        let (from, subject) = (field("From"), field("Subject"));
        let search = Searchable {
            all: collapse(&format!("{subject} {from} {body}")).to_lowercase(),
            from: from.to_lowercase(),
            to: field("To").to_lowercase(),
            cc: field("Cc").to_lowercase(),
            bcc: field("Bcc").to_lowercase(),
            subject: subject.to_lowercase(),
        };
        Self {
            snippet: snippet(&body),
            message,
            history_id,
            part,
            search,
            trashed_from_inbox: None,
        }
    }

    /// The message id.
    pub(super) fn id(&self) -> &str {
        &self.message.id
    }

    /// True when the message carries `label`.
    pub(super) fn has(&self, label: &str) -> bool {
        self.message.label_ids.iter().any(|l| l == label)
    }

    /// Adds `label` unless present.
    pub(super) fn add(&mut self, label: &str) {
        if !self.has(label) {
            self.message.label_ids.push(label.to_owned());
        }
    }

    /// Removes `label` if present.
    pub(super) fn remove(&mut self, label: &str) {
        self.message.label_ids.retain(|l| l != label);
    }
}

/// `text` with every run of whitespace made one space.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
