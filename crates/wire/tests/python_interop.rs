//! Interoperability with the original lab's framing, using a real Python
//! interpreter: its `struct.pack("l", n)` headers, and a Python sender that
//! writes frames exactly as the original client did
//! (`sock.sendall(struct.pack("l", len(msg)) + msg)`), read by
//! `FrameReader` over TCP.
//!
//! The interpreter is `$FRAMECAST_PYTHON`, else `<workspace>/.venv/bin/python`,
//! else `python3` on the PATH. Only the standard library is used. Without an
//! interpreter the tests are skipped with a message, unless `FRAMECAST_CI=1`,
//! when they fail.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use framecast_proto::video::Video;
use framecast_wire::{FrameCodec, FrameReader, Prefix};

fn python() -> Option<PathBuf> {
    framecast_test_support::tools::python("python_interop", &["struct", "socket"])
}

fn run_python(python: &PathBuf, script: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("python prints ASCII")
}

#[test]
fn legacy_headers_match_python_struct_pack() {
    let Some(python) = python() else { return };
    let ns: [usize; 8] = [0, 1, 5, 255, 256, 65_535, 4_000_000, 8_388_608];
    let script = r#"
import struct, sys
assert struct.calcsize("l") == 8, "a 64-bit C long is required"
for n in sys.argv[1:]:
    print(struct.pack("l", int(n)).hex())
"#;
    let args: Vec<String> = ns.iter().map(usize::to_string).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_python(&python, script, &args);
    let codec = FrameCodec::with_prefix(Prefix::LegacyI64Le);
    for (n, line) in ns.iter().zip(out.lines()) {
        let ours: String = codec
            .header(*n)
            .unwrap()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(ours, line, "n={n}");
    }
    assert_eq!(out.lines().count(), ns.len());
}

#[test]
fn negative_python_length_is_refused() {
    let Some(python) = python() else { return };
    let out = run_python(
        &python,
        r#"import struct; print(struct.pack("l", -5).hex())"#,
        &[],
    );
    let bytes: Vec<u8> = (0..out.trim().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&out.trim()[i..i + 2], 16).unwrap())
        .collect();
    let mut src = bytes::BytesMut::from(&bytes[..]);
    let err = FrameCodec::with_prefix(Prefix::LegacyI64Le)
        .decode(&mut src)
        .unwrap_err();
    assert_eq!(err.to_string(), "negative legacy length -5");
}

/// A sender written like the original client: it serialises `Video` with
/// field 1 only (by hand: tag 0x0a, varint length, bytes) and sends
/// `struct.pack("l", len(msg)) + msg` per frame.
#[test]
fn frames_from_a_python_sender_like_the_original_client() {
    let Some(python) = python() else { return };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let script = r#"
import socket, struct, sys

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)

sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for i in range(20):
    jpeg = bytes([0xFF, 0xD8]) + bytes([i]) * (i * 997) + bytes([0xFF, 0xD9])
    message = b"\x0a" + varint(len(jpeg)) + jpeg
    sock.sendall(struct.pack("l", len(message)) + message)
sock.close()
"#;
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&port)
        .spawn()
        .expect("python starts");
    let (stream, _) = listener.accept().unwrap();
    let mut reader = FrameReader::with_codec(stream, FrameCodec::with_prefix(Prefix::LegacyI64Le));
    let mut count = 0u8;
    while let Some(v) = reader.read_message::<Video>().unwrap() {
        let i = count;
        let data = &v.video_data;
        assert_eq!(data.len(), 4 + usize::from(i) * 997, "frame {i}");
        assert_eq!(&data[..2], b"\xff\xd8");
        assert!(data[2..data.len() - 2].iter().all(|&b| b == i));
        assert_eq!(v.sequence, 0, "the original client sends field 1 only");
        count += 1;
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(count, 20);
}
