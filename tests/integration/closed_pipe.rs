//! A reader that goes away (`rulecast list | head -1`) ends rulecast quietly with status 0.

use std::process::{Command, Stdio};

use crate::test::{BIN, repo};

/// Runs rulecast in the repository with its stdout a pipe whose reader is already closed, so
/// the first write fails with EPIPE (Rust ignores SIGPIPE, so the write returns the error).
fn with_closed_stdout(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(BIN)
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_pipe_ends_quietly_with_status_0() {
    let logs = repo().join("tests/fixtures/scan/sample.jsonl");
    for args in [
        vec!["list"],
        vec!["list", "--format", "json"],
        vec!["test", "--detection", "eligible-assignment-burst"],
        vec!["scan", "--quiet", "--logs", logs.to_str().unwrap()],
        vec!["schema"],
        vec!["schema", "--reference"],
        vec!["completions", "bash"],
        vec!["targets"],
    ] {
        let out = with_closed_stdout(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "rulecast {args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.to_lowercase().contains("broken pipe"),
            "rulecast {args:?}: {stderr}"
        );
    }
}

#[test]
fn completions_name_the_commands_and_options_for_each_shell() {
    for (shell, mark) in [
        ("bash", "complete -F _rulecast"),
        ("zsh", "#compdef rulecast"),
        ("fish", "complete -c rulecast"),
    ] {
        let out = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains(mark), "{shell}:\n{script}");
        for word in ["check", "release", "no-tests", "env"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let out = Command::new(BIN)
        .args(["completions", "powershel"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
