//! The example runs as documented: guest-mail in an embedder's own linker reaches the fake
//! Gmail, and the real token is on the wire while the component held only a handle.

use std::process::Command;

#[test]
fn the_embedding_example_runs_guest_mail_through_its_own_linker() {
    let out = Command::new(env!("CARGO_BIN_EXE_embed-example"))
        .output()
        .expect("the example starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "failed: {stdout}\n{stderr}");
    assert!(
        stdout.contains("INBOX") && stdout.contains("Reisen/Zürich"),
        "{stdout}"
    );
    assert!(
        stdout.contains("each with the real token: true"),
        "{stdout}"
    );
    assert!(!stderr.contains("refused"), "{stderr}");
}
