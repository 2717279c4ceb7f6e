//! Loading components: the import allow-list and the world checks, before any guest code runs.

use mcs_host::{ComponentConfig, LoadError, guests};
use mcs_tests::{builder, programs};

#[tokio::test]
async fn component_importing_the_filesystem_is_refused_by_name() {
    let hostile = ComponentConfig::new("fs-reader", programs::FS_READER_COMPONENT_BYTES);
    let err = builder()
        .tool(hostile)
        .build()
        .await
        .err()
        .expect("refused");
    match &err {
        LoadError::ForbiddenImport { component, import } => {
            assert_eq!(component, "fs-reader");
            assert!(import.starts_with("wasi:filesystem/"), "{import}");
        }
        other => panic!("expected a forbidden import, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("wasi:filesystem/") && msg.contains("does not provide"),
        "{msg}"
    );
}

#[tokio::test]
async fn bytes_that_are_not_a_component_are_refused() {
    let junk = ComponentConfig::new("junk", &b"\0asm not really"[..]);
    let err = builder().tool(junk).build().await.err().expect("refused");
    assert!(
        matches!(&err, LoadError::Compile { component, .. } if component == "junk"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_provider_loaded_as_a_tool_is_refused_for_its_world() {
    let wrong = ComponentConfig::new("auth-as-tool", guests::GUEST_AUTH_COMPONENT_BYTES);
    let err = builder().tool(wrong).build().await.err().expect("refused");
    assert!(
        matches!(
            &err,
            LoadError::WrongWorld {
                world: "mcs:tools/tool-component",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_bad_policy_entry_is_refused_with_the_component_named() {
    let mail = ComponentConfig::new("mail", guests::GUEST_MAIL_COMPONENT_BYTES)
        .allow("gmail.googleapis.com");
    let err = builder().tool(mail).build().await.err().expect("refused");
    assert!(
        matches!(&err, LoadError::Policy { component, .. } if component == "mail"),
        "{err:?}"
    );
}

#[tokio::test]
async fn two_components_with_one_name_are_refused() {
    let a = ComponentConfig::new("mail", guests::GUEST_MAIL_COMPONENT_BYTES);
    let b = ComponentConfig::new("mail", guests::GUEST_MAIL_COMPONENT_BYTES);
    let err = builder()
        .tool(a)
        .tool(b)
        .build()
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, LoadError::Duplicate(_)), "{err:?}");
}
