//! The `helm test` Pod's script, run as the Pod runs it: busybox's `sh`, `timeout` and `wget`
//! (Debian's busybox, installed by .ci/setup-tools.sh, as the applets on PATH), against a local
//! server that answers like the operator's /readyz. The pause between tries is cut from 5 s to 0
//! (busybox's shell runs `sleep` itself, whatever PATH says), so a failing case takes no time.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use super::render::render;

fn busybox() -> PathBuf {
    let path = PathBuf::from("/usr/bin/busybox");
    assert!(
        path.exists(),
        "busybox not found: the `helm test` script is run with it; `bash .ci/setup-tools.sh` installs it"
    );
    path
}

/// Answers the given (status line, body) in turn, one connection each, then stops listening.
fn serve(answers: Vec<(&'static str, &'static str)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/readyz", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for (status, body) in answers {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

/// Runs the rendered script against `url`: (exit code, stdout).
fn run(url: &str) -> (i32, String) {
    let rendered = render("defaults");
    let pod = &rendered.test_pods[0];
    let mut command = pod.spec.as_ref().expect("spec").containers[0]
        .command
        .clone()
        .expect("command");
    assert!(command[2].contains("sleep 5"), "{}", command[2]);
    command[2] = command[2].replace("sleep 5", "sleep 0");
    let bin = tempfile::tempdir().expect("tempdir");
    for applet in ["sh", "wget", "timeout", "sleep"] {
        std::os::unix::fs::symlink(busybox(), bin.path().join(applet)).expect("symlink");
    }
    let output = Command::new(bin.path().join(&command[0]))
        .args(&command[1..])
        .env_clear()
        .env("PATH", bin.path())
        .env("READYZ_URL", url)
        .output()
        .expect("run the script");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn the_script_passes_when_readyz_answers_ok() {
    let url = serve(vec![("200 OK", "ok\n")]);
    let (code, stdout) = run(&url);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(stdout, format!("{url}: ok\n"));
}

#[test]
fn the_script_waits_for_a_syncing_operator() {
    let url = serve(vec![
        ("503 Service Unavailable", "not ready\n"),
        ("503 Service Unavailable", "not ready\n"),
        ("200 OK", "ok\n"),
    ]);
    let (code, stdout) = run(&url);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("attempt 2 of 6") && stdout.ends_with(": ok\n"),
        "{stdout}"
    );
}

#[test]
fn the_script_fails_when_readyz_never_answers_ok() {
    for answer in [
        ("503 Service Unavailable", "not ready\n"),
        ("200 OK", "something else\n"),
    ] {
        let url = serve(vec![answer; 6]);
        let (code, stdout) = run(&url);
        assert_eq!(code, 1, "{answer:?}: {stdout}");
        assert!(stdout.contains("not ready (attempt 6 of 6)"), "{stdout}");
    }
    // Nobody listening at all.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/readyz", listener.local_addr().expect("addr"));
    drop(listener);
    assert_eq!(run(&url).0, 1);
}
