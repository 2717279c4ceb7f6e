//! Sign-ins through URL-mode elicitation (MCP 2025-11-25, "Elicitation", URL mode).
//!
//! When a tool call meets an authorization challenge with a page to open, and the client
//! declared `capabilities.elicitation.url`, the server asks the client to send the person
//! there (`elicitation/create` with `mode: "url"`, the challenge's URL, a message with the code
//! to check, and an elicitation id) instead of returning the challenge at once. Once the person
//! accepts, the tool is called again every [`RETRY_EVERY`] until the challenge is gone; that
//! step is then announced with `notifications/elicitation/complete`. A new challenge (Token
//! Vault's first run has two: the Auth0 sign-in, then the Connected Accounts consent) is
//! elicited in turn, so one `tools/call` ends with the tool's real result.
//!
//! Anything else ends the wait with the latest outcome, which [`super::tool_result`] maps as
//! without elicitation: a decline or cancel, an elicitation that fails or is not answered
//! within [`STEP_LIMIT`], a step not finished within [`STEP_LIMIT`], the `tools/call` being
//! cancelled, or more than [`MAX_STEPS`] steps. Mapping outcomes to results is left to the
//! parent module; this one only decides when to call the tool again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{CustomNotification, ElicitationAction, ServerNotification};
use rmcp::service::{ElicitationMode, RequestContext};
use tokio::time::Instant;

use crate::{AuthChallenge, AuthError, CallError, Runtime, ToolError};

/// How often the tool is called again while the person is in the browser. The auth provider
/// polls the broker no faster than the broker asks (LinkAuth's `interval`), so this only
/// bounds how soon a finished step is noticed; a retry between polls is one cheap component
/// call.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// How long one step (the person answering the elicitation, then finishing in the browser)
/// may take: the life of a LinkAuth session (its default TTL), after which its page is gone.
const STEP_LIMIT: Duration = Duration::from_secs(600);

/// The most challenges elicited in one call. Token Vault's first run has two (sign-in,
/// consent), and a session the broker forgot is started afresh once each; a flow that keeps
/// asking beyond that is handed back to the client.
const MAX_STEPS: usize = 4;

/// The notification that ends a URL-mode elicitation (MCP 2025-11-25; rmcp has no type for it).
const COMPLETE: &str = "notifications/elicitation/complete";

/// Calls tool `name`; while the outcome is a challenge the client can elicit, elicits it and
/// calls the tool again once the person is done (see the module docs).
pub(super) async fn call_signing_in(
    runtime: &Runtime,
    name: &str,
    arguments: &str,
    context: &RequestContext<RoleServer>,
) -> Result<String, CallError> {
    let mut result = runtime.call_tool(name, arguments).await;
    if !context
        .peer
        .supported_elicitation_modes()
        .contains(&ElicitationMode::Url)
    {
        return result;
    }
    for _ in 0..MAX_STEPS {
        let Some(challenge) = challenge_in(&result).cloned() else {
            return result;
        };
        let deadline = Instant::now() + STEP_LIMIT;
        let Some(id) = elicit(name, &challenge, deadline, context).await else {
            return result;
        };
        result = retry_until_changed(runtime, name, arguments, &challenge, deadline, context).await;
        if is_same_step(&result, &challenge) {
            tracing::info!(
                tool = name,
                elicitation = id,
                "sign-in not finished; giving up"
            );
            return result;
        }
        complete(&id, context).await;
    }
    result
}

/// The challenge `result` carries, if any.
fn challenge_in(result: &Result<String, CallError>) -> Option<&AuthChallenge> {
    match result {
        Err(CallError::Tool(ToolError::Auth(AuthError::Challenge(c)))) => Some(c),
        _ => None,
    }
}

/// Whether `result` still asks for the step `shown` asked for: the same page, code and scope.
/// Its message may differ ("Still waiting…" once the first one was shown).
fn is_same_step(result: &Result<String, CallError>, shown: &AuthChallenge) -> bool {
    challenge_in(result)
        .is_some_and(|c| (&c.url, &c.code, &c.scope) == (&shown.url, &shown.code, &shown.scope))
}

/// Sends the URL-mode elicitation for `challenge`; its id when the person accepted it, `None`
/// when there is no page to open, or the person declined, or the elicitation failed.
async fn elicit(
    tool: &str,
    challenge: &AuthChallenge,
    deadline: Instant,
    context: &RequestContext<RoleServer>,
) -> Option<String> {
    let page = challenge.url.as_deref()?;
    let url = match url::Url::parse(page) {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(
                url = page,
                "cannot elicit a challenge whose URL is invalid: {e}"
            );
            return None;
        }
    };
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = format!("mcs-signin-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let left = deadline.saturating_duration_since(Instant::now());
    let asked = context.peer.elicit_url_with_timeout(
        elicitation_message(tool, challenge),
        url,
        id.clone(),
        Some(left),
    );
    let answer = tokio::select! {
        answer = asked => answer,
        () = context.ct.cancelled() => return None,
    };
    match answer {
        Ok(ElicitationAction::Accept) => {
            tracing::info!(tool, elicitation = id, "sign-in page accepted; waiting");
            Some(id)
        }
        Ok(action) => {
            tracing::info!(tool, elicitation = id, ?action, "sign-in page not accepted");
            None
        }
        Err(e) => {
            tracing::warn!(tool, elicitation = id, "URL elicitation failed: {e}");
            None
        }
    }
}

/// What the person sees with the page's URL: the code to check and that the call goes on.
fn elicitation_message(tool: &str, challenge: &AuthChallenge) -> String {
    let scope = &challenge.scope;
    match &challenge.code {
        Some(code) => format!(
            "Authorization needed for {scope:?}: open the page, check that it shows the code \
             {code} and finish there; {tool} then continues by itself."
        ),
        None => format!(
            "Authorization needed for {scope:?}: open the page and finish there; {tool} then \
             continues by itself."
        ),
    }
}

/// Calls the tool every [`RETRY_EVERY`] until it no longer asks for the step `shown` asked
/// for, `deadline` passes or the request is cancelled; returns the last outcome.
async fn retry_until_changed(
    runtime: &Runtime,
    name: &str,
    arguments: &str,
    shown: &AuthChallenge,
    deadline: Instant,
    context: &RequestContext<RoleServer>,
) -> Result<String, CallError> {
    loop {
        tokio::select! {
            () = tokio::time::sleep(RETRY_EVERY) => {}
            () = context.ct.cancelled() => {
                return Err(ToolError::Auth(AuthError::Challenge(shown.clone())).into());
            }
        }
        let result = runtime.call_tool(name, arguments).await;
        if !is_same_step(&result, shown) || Instant::now() >= deadline {
            return result;
        }
    }
}

/// Tells the client that elicitation `id` is over (`notifications/elicitation/complete`).
async fn complete(id: &str, context: &RequestContext<RoleServer>) {
    let params = serde_json::json!({ "elicitationId": id });
    let notification = CustomNotification::new(COMPLETE, Some(params));
    let sent = context
        .peer
        .send_notification(ServerNotification::CustomNotification(notification))
        .await;
    if let Err(e) = sent {
        tracing::debug!(elicitation = id, "could not send {COMPLETE}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(code: Option<&str>) -> AuthChallenge {
        AuthChallenge {
            message: "Sign-in required.".into(),
            url: Some("https://b/connect/AB-12".into()),
            code: code.map(Into::into),
            scope: "gmail".into(),
        }
    }

    #[test]
    fn the_message_names_the_scope_the_code_and_the_tool() {
        assert_eq!(
            elicitation_message("list_folders", &challenge(Some("AB-12"))),
            "Authorization needed for \"gmail\": open the page, check that it shows the code \
             AB-12 and finish there; list_folders then continues by itself."
        );
        assert_eq!(
            elicitation_message("list_folders", &challenge(None)),
            "Authorization needed for \"gmail\": open the page and finish there; list_folders \
             then continues by itself."
        );
    }

    #[test]
    fn only_challenges_are_elicited() {
        let c = challenge(Some("AB-12"));
        let pending: Result<String, CallError> =
            Err(ToolError::Auth(AuthError::Challenge(c.clone())).into());
        assert_eq!(challenge_in(&pending), Some(&c));
        assert_eq!(challenge_in(&Ok("{}".into())), None);
        let denied: Result<String, CallError> =
            Err(ToolError::Auth(AuthError::Denied("no".into())).into());
        assert_eq!(challenge_in(&denied), None);
    }

    #[test]
    fn a_step_is_the_same_while_its_page_and_code_are() {
        let shown = challenge(Some("AB-12"));
        let pending = |c: AuthChallenge| -> Result<String, CallError> {
            Err(ToolError::Auth(AuthError::Challenge(c)).into())
        };
        let still_waiting = AuthChallenge {
            message: "Still waiting.".into(),
            ..shown.clone()
        };
        assert!(is_same_step(&pending(still_waiting), &shown));
        let consent = AuthChallenge {
            code: Some("CD-34".into()),
            scope: "gmail:connect".into(),
            ..shown.clone()
        };
        assert!(!is_same_step(&pending(consent), &shown));
        assert!(!is_same_step(&Ok("[]".into()), &shown));
    }
}
