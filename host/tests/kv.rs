//! The durable key-value store across real processes: committed writes survive `kill -9`,
//! increments from several processes serialise, and a value changed on disk is reported as
//! tampered. Pure logic (AAD, key files, paging) is tested inline in `host/src/kv/`.
//!
//! Child processes are this test binary run again with `MCS_KV_TEST_CHILD` set and the filter
//! `--exact child_entry`; without the variable, `child_entry` does nothing.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mcs_host::kv::{Backend, KvError, Location, open_default};

/// Tells a re-executed test binary which child role to play: `writer:DIR` or `increment:DIR`.
const CHILD_ENV: &str = "MCS_KV_TEST_CHILD";

/// Lines a child prints after each committed write, followed by its index.
const WROTE: &str = "wrote ";

/// Writes the parent waits to see before it kills the writer.
const KILL_AFTER: usize = 200;

/// The most a writer writes, so a writer that is never killed still stops.
const WRITER_MAX: usize = 100_000;

const INCREMENT_PROCESSES: u64 = 8;
const INCREMENTS_EACH: u64 = 50;

/// How long any test waits for its children.
const DEADLINE: Duration = Duration::from_secs(120);

fn at(key: &str) -> Location<'_> {
    Location {
        namespace: "test",
        bucket: "default",
        key,
    }
}

fn value_for(i: usize) -> Vec<u8> {
    format!("value {i} ").repeat(1 + i % 7).into_bytes()
}

/// The child side: runs only when `MCS_KV_TEST_CHILD` is set.
#[test]
fn child_entry() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (role, dir) = role.split_once(':').expect("ROLE:DIR");
    let kv = open_default(Path::new(dir), None).expect("store opens");
    match role {
        "writer" => {
            let started = Instant::now();
            for i in 0..WRITER_MAX {
                if started.elapsed() > DEADLINE {
                    break;
                }
                kv.set(at(&format!("k{i}")), &value_for(i)).expect("set");
                println!("{WROTE}{i}");
            }
        }
        "increment" => {
            for _ in 0..INCREMENTS_EACH {
                kv.increment(at("n"), 1).expect("increment");
            }
        }
        other => panic!("unknown child role {other:?}"),
    }
}

/// A child process that is killed when dropped, so a failing test leaves none running.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_child(role: &str, dir: &Path) -> ChildGuard {
    let child = Command::new(std::env::current_exe().expect("test binary path"))
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{role}:{}", dir.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("child starts");
    ChildGuard(child)
}

/// Waits for `child` to exit by `deadline` (failing the test if it does not; the guard then
/// kills it) and returns its output.
fn finish(mut child: ChildGuard, deadline: Instant) -> Output {
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("child status") {
            break status;
        }
        assert!(Instant::now() < deadline, "child ran past the deadline");
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    if let Some(mut pipe) = child.0.stdout.take() {
        pipe.read_to_end(&mut stdout).expect("child stdout");
    }
    if let Some(mut pipe) = child.0.stderr.take() {
        pipe.read_to_end(&mut stderr).expect("child stderr");
    }
    Output {
        status,
        stdout,
        stderr,
    }
}

/// The index in a writer's output line (libtest may print its own text before it).
fn written_index(line: &str) -> Option<usize> {
    line.rsplit_once(WROTE)?.1.trim().parse().ok()
}

fn explain(out: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn kill_9_loses_no_committed_write() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = spawn_child("writer", tmp.path());
    let stdout = child.0.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + DEADLINE;
    let mut written = Vec::new();
    while written.len() < KILL_AFTER {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.0.kill();
                let out = finish(child, Instant::now() + Duration::from_secs(5));
                panic!(
                    "writer stopped after {} writes ({e}):\n{}",
                    written.len(),
                    explain(&out)
                );
            }
        };
        written.extend(written_index(&line));
    }
    // SIGKILL: no destructor, no flush, no checkpoint in the child.
    child.0.kill().expect("kill -9 the writer");
    let status = child.0.wait().expect("writer status");
    assert!(!status.success(), "writer was killed, not finished");
    // Lines already in the pipe were committed too.
    written.extend(rx.iter().filter_map(|l| written_index(&l)));
    assert!(written.len() >= KILL_AFTER);

    let kv = open_default(tmp.path(), None).unwrap();
    for &i in &written {
        let key = format!("k{i}");
        assert_eq!(
            kv.get(at(&key)).unwrap(),
            Some(value_for(i)),
            "{key} was printed as committed"
        );
    }
}

#[test]
fn increments_from_8_processes_lose_no_update() {
    let tmp = tempfile::tempdir().unwrap();
    // All children start on an empty directory, so they also race to create the key and database.
    let children: Vec<_> = (0..INCREMENT_PROCESSES)
        .map(|_| spawn_child("increment", tmp.path()))
        .collect();
    let deadline = Instant::now() + DEADLINE;
    for child in children {
        let out = finish(child, deadline);
        assert!(out.status.success(), "{}", explain(&out));
    }

    let kv = open_default(tmp.path(), None).unwrap();
    let total = INCREMENT_PROCESSES * INCREMENTS_EACH;
    let stored = kv.get(at("n")).unwrap().expect("counter exists");
    assert_eq!(String::from_utf8_lossy(&stored), total.to_string());
    assert_eq!(kv.increment(at("n"), 0).unwrap(), total);
    let mut files: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with("state.db"))
        .collect();
    files.sort();
    assert_eq!(files, ["state.key"], "one key, no temporary files left");
}

#[test]
fn value_changed_on_disk_is_tampered_and_others_still_read() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let kv = open_default(tmp.path(), None).unwrap();
        kv.set(at("refresh_token"), b"rt-secret-value").unwrap();
        kv.set(at("other"), b"fine").unwrap();
    }
    {
        let db = rusqlite::Connection::open(tmp.path().join("state.db")).unwrap();
        let mut value: Vec<u8> = db
            .query_row(
                "SELECT value FROM kv WHERE key = 'refresh_token'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            !value.windows(9).any(|w| w == b"rt-secret"),
            "stored in plaintext"
        );
        let mid = value.len() / 2;
        value[mid] ^= 0x01;
        db.execute(
            "UPDATE kv SET value = ?1 WHERE key = 'refresh_token'",
            [&value],
        )
        .unwrap();
    }

    let kv = open_default(tmp.path(), None).unwrap();
    let err = kv.get(at("refresh_token")).unwrap_err();
    assert!(
        matches!(&err, KvError::Tampered { key, .. } if key == "refresh_token"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("\"refresh_token\""), "{text}");
    assert!(!text.contains("rt-secret"), "{text}");
    assert_eq!(kv.get(at("other")).unwrap().as_deref(), Some(&b"fine"[..]));
}
