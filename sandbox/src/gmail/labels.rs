//! `labels.list`, `labels.get` (with counts) and `labels.create`.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::GmailError;
use super::{Account, Ctx, Label};
use crate::wire;

/// The visibilities a user label has unless created with others.
const DEFAULT_VISIBILITY: (&str, &str) = ("labelShow", "show");

/// `GET labels`: `{"labels": [{id, name, type, …}]}`.
pub(super) async fn list(State(shared): Ctx) -> Response {
    let account = shared.account();
    let labels: Vec<Value> = account
        .labels
        .iter()
        .map(|l| resource(&account, l))
        .collect();
    wire::json(200, &json!({ "labels": labels }))
}

/// `GET labels/{id}`: the label with `messagesTotal`, `messagesUnread`, `threadsTotal` and
/// `threadsUnread`.
pub(super) async fn get(
    State(shared): Ctx,
    Path(id): Path<String>,
) -> Result<Response, GmailError> {
    let account = shared.account();
    let label = account
        .labels
        .iter()
        .find(|l| l.id == id)
        .ok_or_else(GmailError::not_found)?;
    let labelled: Vec<_> = account.messages.iter().filter(|m| m.has(&id)).collect();
    let unread: Vec<_> = labelled.iter().filter(|m| m.has("UNREAD")).collect();
    let threads = |ms: &mut dyn Iterator<Item = &str>| ms.collect::<HashSet<_>>().len();
    let mut body = resource(&account, label);
    body["messagesTotal"] = json!(labelled.len());
    body["messagesUnread"] = json!(unread.len());
    body["threadsTotal"] = json!(threads(
        &mut labelled.iter().map(|m| m.message.thread_id.as_str())
    ));
    body["threadsUnread"] = json!(threads(
        &mut unread.iter().map(|m| m.message.thread_id.as_str())
    ));
    Ok(wire::json(200, &body))
}

/// `POST labels` `{"name", "labelListVisibility", "messageListVisibility"}`: the new user label
/// `Label_N`; 400 for an empty name or a bad visibility, 409 for a name that exists in any case.
pub(super) async fn create(State(shared): Ctx, body: Bytes) -> Result<Response, GmailError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct NewLabel {
        #[serde(default)]
        name: String,
        label_list_visibility: Option<String>,
        message_list_visibility: Option<String>,
    }
    let new: NewLabel = serde_json::from_slice(&body).map_err(GmailError::bad_json)?;
    let name = new.name.trim();
    if name.is_empty() {
        return Err(GmailError::invalid("Invalid label name"));
    }
    let list_visibility = new
        .label_list_visibility
        .unwrap_or_else(|| DEFAULT_VISIBILITY.0.into());
    if !["labelShow", "labelShowIfUnread", "labelHide"].contains(&list_visibility.as_str()) {
        return Err(invalid_value("label_list_visibility", &list_visibility));
    }
    let message_visibility = new
        .message_list_visibility
        .unwrap_or_else(|| DEFAULT_VISIBILITY.1.into());
    if !["show", "hide"].contains(&message_visibility.as_str()) {
        return Err(invalid_value(
            "message_list_visibility",
            &message_visibility,
        ));
    }
    let mut account = shared.account();
    let lower = name.to_lowercase();
    if account
        .labels
        .iter()
        .any(|l| l.name.to_lowercase() == lower)
    {
        return Err(GmailError::conflict("Label name exists or conflicts"));
    }
    let number = account
        .labels
        .iter()
        .filter_map(|l| l.id.strip_prefix("Label_")?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    let label = Label::user(&format!("Label_{number}"), name);
    account
        .visibility
        .insert(label.id.clone(), (list_visibility, message_visibility));
    account.labels.push(label.clone());
    account.next_history();
    Ok(wire::json(200, &resource(&account, &label)))
}

/// Gmail's answer to an enum field with a value it does not know.
fn invalid_value(field: &str, value: &str) -> GmailError {
    GmailError::invalid(format!("Invalid value at 'label.{field}' ({value:?})"))
}

/// The label resource: `{id, name, type}`, for user labels also the two visibilities.
fn resource(account: &Account, label: &Label) -> Value {
    if label.system {
        return json!({"id": label.id, "name": label.name, "type": "system"});
    }
    let (list, message) = account
        .visibility
        .get(&label.id)
        .map_or(DEFAULT_VISIBILITY, |(l, m)| (l.as_str(), m.as_str()));
    json!({
        "id": label.id,
        "name": label.name,
        "type": "user",
        "labelListVisibility": list,
        "messageListVisibility": message,
    })
}
