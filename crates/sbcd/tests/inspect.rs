//! `sbcd inspect` end to end: the real binary on the committed vectors, checking the exit
//! status contract (0 accept, 1 reject, 2 parse error) and the JSON it prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn vector(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/vectors")
        .join(rel)
}

fn inspect(args: &[&str], stdin: Option<&[u8]>) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sbcd"))
        .arg("inspect")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sbcd");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default())
        .expect("write stdin");
    drop(input);
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[test]
fn valid_message_exits_0_with_summary() {
    let p = vector("own/emergency-pidf.sip");
    let (code, out) = inspect(&[p.to_str().unwrap()], None);
    assert_eq!(code, 0);
    let v = json(&out);
    assert_eq!(v["kind"], "request");
    assert_eq!(v["method"], "INVITE");
    assert_eq!(v["request_uri"]["user"], "911");
    assert_eq!(v["call_id"], "3848276298220188511@atlanta.example.com");
    assert_eq!(v["cseq"]["seq"], 31862);
    assert_eq!(v["top_via_branch"], "z9hG4bK77ef0a1b2c3d");
    assert_eq!(v["from"]["tag"], "e1f2a3b4");
    assert_eq!(v["headers"][0]["name"], "Via");
    assert_eq!(
        v["body"]["parts"][1]["content_type"],
        "application/pidf+xml"
    );
    assert_eq!(
        v["body"]["parts"][1]["content_id"],
        "<target123@atlanta.example.com>"
    );
    assert_eq!(v["verdict"]["action"], "accept");
}

#[test]
fn rejected_message_exits_1_with_status() {
    let p = vector("rfc4475/badvers.dat");
    let (code, out) = inspect(&[p.to_str().unwrap()], None);
    assert_eq!(code, 1);
    let v = json(&out);
    assert_eq!(v["verdict"]["status"], 505);
}

#[test]
fn parse_error_exits_2_with_kind_and_offset() {
    let p = vector("rfc4475/ncl.dat");
    let (code, out) = inspect(&[p.to_str().unwrap()], None);
    assert_eq!(code, 2);
    let v = json(&out);
    assert_eq!(v["verdict"]["kind"], "bad_content_length");
    assert!(v["verdict"]["offset"].as_u64().unwrap() > 0);
}

#[test]
fn stdin_and_stream_framing() {
    let one = std::fs::read(vector("own/bye.sip")).unwrap();
    let mut two = one.clone();
    two.extend_from_slice(b"\r\n\r\n");
    two.extend_from_slice(&std::fs::read(vector("own/options.sip")).unwrap());
    let (code, out) = inspect(&["--stream", "-"], Some(&two));
    assert_eq!(code, 0);
    let values: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&out)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(values.len(), 2);
    assert_eq!(values[0]["method"], "BYE");
    assert_eq!(values[1]["method"], "OPTIONS");
    // A stream cut inside a message is a parse error.
    let (code, _) = inspect(&["--stream", "-"], Some(&one[..one.len() - 10]));
    assert_eq!(code, 2);
}
