//! The `mcs` binary as users run it: one process per command, exit codes, stdout and stderr.
//! (These live in the host package because only it can name its binary, `CARGO_BIN_EXE_mcs`.)

use std::process::{Command, Output};

use mcs_sandbox::{FakeGmail, Mailbox};

const TOKEN: &str = "ya29.cli-test-token";

/// Runs `mcs` with `args` and a clean environment plus `env`; the state lives in a fresh
/// temporary `MCS_HOME` unless `env` names one.
fn mcs(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcs"));
    cmd.args(args).env_clear().env("MCS_HOME", home.path());
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("mcs runs")
}

/// Panics with everything needed to see why (secrets redacted).
fn explain(args: &[&str], out: &Output) -> String {
    format!(
        "mcs {args:?}\nexit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).replace(TOKEN, "<token>"),
        String::from_utf8_lossy(&out.stderr).replace(TOKEN, "<token>"),
    )
}

fn assert_exit(args: &[&str], out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", explain(args, out));
}

#[test]
fn demo_lists_the_sandbox_labels_with_no_setup() {
    let args = ["demo"];
    let out = mcs(&args, &[]);
    assert_exit(&args, &out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for label in ["INBOX", "Work", "Label_1", "Reisen/Zürich"] {
        assert!(
            stdout.contains(label),
            "{label} missing\n{}",
            explain(&args, &out)
        );
    }
}

#[test]
fn call_prints_json_from_the_configured_gmail() {
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).unwrap();
    let base = gmail.base_url();
    let args = ["call", "list_folders"];
    let out = mcs(
        &args,
        &[("MCS_GMAIL_BASE_URL", &base), ("MCS_TOKEN_GMAIL", TOKEN)],
    );
    assert_exit(&args, &out, 0);
    let folders: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}\n{}", explain(&args, &out)));
    assert!(
        folders
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["name"] == "Work"))
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains(TOKEN));
}

#[test]
fn tool_errors_exit_1_with_the_reason_on_stderr() {
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).unwrap();
    let base = gmail.base_url();
    let env = [
        ("MCS_GMAIL_BASE_URL", base.as_str()),
        ("MCS_TOKEN_GMAIL", TOKEN),
    ];
    let cases: [(&[&str], &str); 3] = [
        (&["call", "no_such_tool"], "no tool named \"no_such_tool\""),
        (&["call", "list_folders", "{oops"], "not valid JSON"),
        (&["call", "list_folders", "{\"x\":1}"], "takes no arguments"),
    ];
    for (args, want) in cases {
        let out = mcs(args, &env);
        assert_exit(args, &out, 1);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(want),
            "{}",
            explain(args, &out)
        );
        assert!(out.stdout.is_empty(), "{}", explain(args, &out));
    }
}

#[test]
fn a_missing_token_says_which_variable_to_set() {
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).unwrap();
    let base = gmail.base_url();
    let args = ["call", "list_folders"];
    let out = mcs(&args, &[("MCS_GMAIL_BASE_URL", &base)]);
    assert_exit(&args, &out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("MCS_TOKEN_GMAIL"),
        "{}",
        explain(&args, &out)
    );
}

#[test]
fn bad_configuration_exits_2_naming_the_variable() {
    let args = ["call", "list_folders"];
    let out = mcs(&args, &[("MCS_GMAIL_BASE_URL", "ftp://nope")]);
    assert_exit(&args, &out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("mcs: MCS_GMAIL_BASE_URL"),
        "{}",
        explain(&args, &out)
    );
}

#[test]
fn usage_errors_exit_2_and_help_documents_exit_codes() {
    let out = mcs(&["call"], &[]);
    assert_exit(&["call"], &out, 2);
    let out = mcs(&["--help"], &[]);
    assert_exit(&["--help"], &out, 0);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Exit codes:") && help.contains("3  authorization required"),
        "{help}"
    );
}

#[test]
fn call_keeps_its_state_private_and_encrypted() {
    use std::os::unix::fs::MetadataExt;
    let gmail = FakeGmail::start(Mailbox::sample(), TOKEN).unwrap();
    let base = gmail.base_url();
    let home = tempfile::tempdir().unwrap();
    let home_str = home.path().to_str().unwrap();
    let args = ["call", "list_folders"];
    let out = mcs(
        &args,
        &[
            ("MCS_GMAIL_BASE_URL", &base),
            ("MCS_TOKEN_GMAIL", TOKEN),
            ("MCS_HOME", home_str),
        ],
    );
    assert_exit(&args, &out, 0);
    for name in ["state.db", "state.key"] {
        let meta =
            std::fs::metadata(home.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(meta.mode() & 0o077, 0, "{name} is private");
    }
    assert_eq!(
        std::fs::metadata(home.path().join("cache")).unwrap().mode() & 0o077,
        0
    );
    assert!(
        std::fs::read_dir(home.path().join("cache"))
            .unwrap()
            .count()
            >= 2,
        "components cached"
    );
}

#[test]
fn tools_lists_names_and_json_schemas() {
    let args = ["tools", "--json"];
    let out = mcs(&args, &[]);
    assert_exit(&args, &out, 0);
    let specs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(specs[0]["name"], "list_folders", "{}", explain(&args, &out));
    assert_eq!(specs[0]["input_schema"]["type"], "object");
}
