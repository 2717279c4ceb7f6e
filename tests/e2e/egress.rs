//! Outbound requests: what the policy refuses, what the host reports, and sealed credentials
//! that may only go where their scope allows.

use mcs_host::egress::DenialReason;
use mcs_host::{CallError, ComponentConfig, Runtime, ToolError, guests};
use mcs_sandbox::{FakeGmail, Mailbox};
use mcs_tests::{Denials, GMAIL_TOKEN, auth_component, builder};

/// The mail component pointed at `gmail`, reaching `allowed` and sending its gmail token to
/// `token_to`; denials are collected in `denials`.
async fn mail_runtime(
    gmail: &FakeGmail,
    allowed: &str,
    token_to: &str,
    denials: &Denials,
) -> Runtime {
    let mail = ComponentConfig::new("mail", guests::GUEST_MAIL_COMPONENT_BYTES)
        .allow(allowed)
        .credential("gmail", [token_to])
        .setting("gmail-base-url", gmail.base_url());
    builder()
        .provider(auth_component(Some(GMAIL_TOKEN)))
        .tool(mail)
        .on_denied(denials.handler())
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn request_outside_the_allow_list_is_refused_and_named() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let denials = Denials::default();
    // The mail component points at the fake but may only reach the real Gmail.
    let real = "https://gmail.googleapis.com";
    let rt = mail_runtime(&gmail, real, real, &denials).await;

    let err = rt.call_tool("list_folders", "{}").await.unwrap_err();
    let origin = gmail.base_url();
    match &err {
        CallError::Tool(ToolError::Upstream(msg)) => {
            assert!(
                msg.contains("egress policy") && msg.contains(&origin),
                "{msg}"
            );
        }
        other => panic!("expected a refused request, got {other:?}"),
    }
    let seen = denials.all();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].component, "mail");
    assert_eq!(seen[0].destination, origin);
    assert_eq!(seen[0].reason, DenialReason::NotAllowed);
    assert!(seen[0].to_string().contains("allowed_outbound_hosts"));
    assert!(gmail.requests().is_empty(), "nothing reached the fake");
}

#[tokio::test]
async fn a_credential_handle_is_not_sent_where_its_scope_may_not_go() {
    let gmail = FakeGmail::start(Mailbox::sample(), GMAIL_TOKEN).unwrap();
    let denials = Denials::default();
    // The fake is reachable, but the gmail token may only go to the real Gmail.
    let rt = mail_runtime(
        &gmail,
        &gmail.base_url(),
        "https://gmail.googleapis.com",
        &denials,
    )
    .await;

    let err = rt.call_tool("list_folders", "{}").await.unwrap_err();
    assert!(
        matches!(err, CallError::Tool(ToolError::Upstream(_))),
        "{err:?}"
    );
    let seen = denials.all();
    assert_eq!(
        seen.first().map(|d| &d.reason),
        Some(&DenialReason::CredentialMisdirected {
            scope: "gmail".into()
        }),
        "{seen:?}"
    );
    assert!(
        gmail.requests().is_empty(),
        "the handle never left the host"
    );
}
