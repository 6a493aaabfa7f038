//! Keeps the session handshake section of `docs/protocol.md` true: its
//! example messages are generated here from the real encoder, and the
//! document must contain the generated hex dumps verbatim, and state the
//! constants the code uses.

use framecast_proto::handshake::{Arrival, Feedback, Hello, Settings, Status, StatusCode};
use framecast_stream::handshake::{
    self, Decoded, ENVELOPE_LEN, FEEDBACK_MAGIC, FEEDBACK_VERSION, HANDSHAKE_VERSION, HELLO_MAGIC,
    MAX_ARRIVALS_PER_FEEDBACK, MAX_HANDSHAKE_BODY, MAX_NAME_LEN, MAX_TOKEN_LEN, STATUS_MAGIC,
};
use framecast_stream::limits;
use framecast_test_support::fixtures::hexdump;

/// The spec, read at compile time from the repository.
const SPEC: &str = include_str!("../../../docs/protocol.md");

fn example_hello() -> Hello {
    Hello {
        name: "door".into(),
        token: Vec::new(),
        software: "framecast/0.1.0".into(),
        feedback: 0,
    }
}

fn example_accepted() -> Status {
    Status {
        code: StatusCode::Accepted as i32,
        reason: String::new(),
        max_frame_len: 8_388_608,
        max_pixels: 8_294_400,
        stream_id: 1,
        retry_after_ms: 0,
        feedback: 0,
    }
}

/// A sender that adapts: it asks for feedback.
fn example_hello_feedback() -> Hello {
    Hello {
        feedback: FEEDBACK_VERSION,
        ..example_hello()
    }
}

/// The receiver agrees.
fn example_accepted_feedback() -> Status {
    Status {
        feedback: FEEDBACK_VERSION,
        ..example_accepted()
    }
}

/// Frame 300 (25,000 bytes) arrived from 10.000 s to 10.020 s into the
/// session; the receiver dropped 2 frames so far, none corrupt.
fn example_feedback() -> Feedback {
    Feedback {
        arrivals: vec![Arrival {
            sequence: Some(300),
            bytes: 25_000,
            first_byte_us: 10_000_000,
            last_byte_us: 10_020_000,
        }],
        dropped: 2,
        corrupt: 0,
        settings: None,
    }
}

/// The receiver asks for at most quality 60, 320x240 and 15 fps.
fn example_settings() -> Feedback {
    Feedback {
        settings: Some(Settings {
            max_quality: 60,
            max_width: 320,
            max_height: 240,
            max_fps: 15,
        }),
        ..Feedback::default()
    }
}

fn example_busy() -> Status {
    Status {
        code: StatusCode::Busy as i32,
        reason: "busy: already serving 16 senders".into(),
        retry_after_ms: 1000,
        ..Default::default()
    }
}

fn check(what: &str, bytes: &[u8]) {
    let dump = hexdump(bytes);
    assert!(
        SPEC.contains(&dump),
        "docs/protocol.md must contain the {what} dump verbatim:\n{dump}"
    );
}

#[test]
fn spec_contains_the_generated_hello() {
    let mut wire = Vec::new();
    handshake::encode_hello(&example_hello(), &mut wire);
    assert_eq!(&wire[..4], &HELLO_MAGIC);
    assert_eq!(wire[4], HANDSHAKE_VERSION);
    assert_eq!(
        usize::from(u16::from_le_bytes([wire[5], wire[6]])),
        wire.len() - ENVELOPE_LEN
    );
    check("hello", &wire);
    assert!(matches!(
        handshake::decode_hello(&wire).unwrap(),
        Decoded::Complete { message, .. } if message == example_hello()
    ));
}

#[test]
fn spec_contains_the_generated_hello_asking_for_feedback() {
    let mut wire = Vec::new();
    handshake::encode_hello(&example_hello_feedback(), &mut wire);
    check("hello asking for feedback", &wire);
    assert!(matches!(
        handshake::decode_hello(&wire).unwrap(),
        Decoded::Complete { message, .. } if message == example_hello_feedback()
    ));
}

#[test]
fn spec_contains_the_generated_feedback() {
    for (what, feedback) in [
        ("feedback", example_feedback()),
        ("settings request", example_settings()),
    ] {
        let mut wire = Vec::new();
        handshake::encode_feedback(&feedback, &mut wire);
        assert_eq!(&wire[..4], &FEEDBACK_MAGIC);
        check(what, &wire);
        assert!(matches!(
            handshake::decode_feedback(&wire).unwrap(),
            Decoded::Complete { message, .. } if message == feedback
        ));
        let mut reused = Feedback::default();
        assert_eq!(
            handshake::decode_feedback_into(&wire, &mut reused).unwrap(),
            Some(wire.len())
        );
        assert_eq!(reused, feedback);
    }
}

#[test]
fn spec_contains_the_generated_statuses() {
    for (what, status) in [
        ("accepted", example_accepted()),
        ("accepted with feedback", example_accepted_feedback()),
        ("busy", example_busy()),
    ] {
        let mut wire = Vec::new();
        handshake::encode_status(&status, &mut wire);
        assert_eq!(&wire[..4], &STATUS_MAGIC);
        check(what, &wire);
        assert!(matches!(
            handshake::decode_status(&wire).unwrap(),
            Decoded::Complete { message, .. } if message == status
        ));
    }
}

#[test]
fn spec_states_the_constants() {
    for (what, value) in [
        ("MAX_HANDSHAKE_BODY", MAX_HANDSHAKE_BODY.to_string()),
        ("MAX_NAME_LEN", MAX_NAME_LEN.to_string()),
        ("MAX_TOKEN_LEN", MAX_TOKEN_LEN.to_string()),
        (
            "MAX_ARRIVALS_PER_FEEDBACK",
            MAX_ARRIVALS_PER_FEEDBACK.to_string(),
        ),
        (
            "status timeout",
            limits::DEFAULT_STATUS_TIMEOUT.as_secs().to_string(),
        ),
        (
            "handshake timeout",
            limits::DEFAULT_HANDSHAKE_TIMEOUT.as_secs().to_string(),
        ),
    ] {
        assert!(
            SPEC.contains(&value),
            "docs/protocol.md must state {what} = {value}"
        );
    }
    // Every status code, by its number and name.
    for code in 0..=8 {
        let name = StatusCode::try_from(code).unwrap().as_str_name();
        assert!(
            SPEC.contains(&format!("| {code} | `{name}`")),
            "docs/protocol.md must list status code {code} {name}"
        );
    }
}
