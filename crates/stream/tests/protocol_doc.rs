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
use framecast_stream::name::{NAME_HASH_LEN, StreamName, subject_name, subject_token, token_name};
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

/// The lines of section 9 ("Stream names and NATS subjects").
fn names_section() -> &'static str {
    let start = SPEC
        .find("## 9. Stream names and NATS subjects")
        .expect("docs/protocol.md has a section 9 on names and subjects");
    &SPEC[start..]
}

/// A name of the examples table as written there.
fn table_name(cell: &str) -> String {
    if cell == "(empty)" {
        return String::new();
    }
    cell.strip_prefix('`')
        .and_then(|c| c.strip_suffix('`'))
        .unwrap_or_else(|| panic!("a name in backquotes: {cell}"))
        .to_owned()
}

#[test]
fn spec_examples_of_subject_tokens_are_what_the_code_makes() {
    let section = names_section();
    let table = section
        .split("| name | token |\n| --- | --- |\n")
        .nth(1)
        .expect("section 9.2 has the table of names and tokens");
    let mut rows = 0;
    let mut tokens = std::collections::HashSet::new();
    for line in table.lines().take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [name, token] = cells[..] else {
            panic!("two cells: {line}");
        };
        let name = table_name(name);
        let token = table_name(token);
        assert_eq!(subject_token(&name), token, "the token of {name:?}");
        assert_eq!(token_name(&token).as_deref(), Some(&*name), "{token}");
        assert_eq!(
            subject_name(&token),
            name,
            "the stream of framecast.{token}"
        );
        assert!(tokens.insert(token), "{line}: two names, one token");
        rows += 1;
    }
    assert!(rows >= 8, "{rows} examples");
    // The four names the scheme keeps apart, all in the table.
    for name in ["a.b", "a_b", "a*b", "a>b"] {
        assert!(tokens.contains(&subject_token(name)), "{name}");
    }
    // The examples in the text.
    assert_eq!(subject_name("door.cam"), "door.cam");
    assert!(section.contains("`site1.door.cam` is the stream `door.cam`"));
    for (token, rule) in [("~61", "~61"), ("~2E", "~2E")] {
        assert_eq!(token_name(token), None, "{token}");
        assert_eq!(subject_name(token), token, "taken as written");
        assert!(section.contains(&format!("`{rule}`")), "{rule}");
    }
    let long = subject_name(&"x".repeat(70));
    assert_eq!(long.len(), MAX_NAME_LEN);
    assert!(
        section.contains(&format!("`{long}`")),
        "docs/protocol.md must show the long name as {long}"
    );
    assert!(section.contains(&format!("at most {} bytes", MAX_NAME_LEN - NAME_HASH_LEN)));
    assert!(section.contains("`0x811c9dc5`") && section.contains("`0x01000193`"));
    // A control character: the name is refused.
    assert!(section.contains("`framecast.~1b~5b2J`"));
    assert!(StreamName::new(&subject_name("~1b~5b2J")).is_err());
    // The shown form of a name with U+202E.
    let shown = StreamName::new("cam\u{202e}1")
        .unwrap()
        .printable()
        .into_owned();
    assert!(section.contains(&format!("`{shown}`")), "{shown}");
}
