use std::path::Path;

use clap::Parser;

use super::table::similar;
use super::*;

/// The keys docs/config.md lists under `heading`, in its table.
fn documented(heading: &str) -> Vec<String> {
    let doc = include_str!("../../../../docs/config.md");
    let section = doc
        .split(&format!("## `{heading}`"))
        .nth(1)
        .unwrap_or_else(|| panic!("docs/config.md has no section {heading}"));
    let section = section.split("\n## ").next().unwrap();
    let mut keys: Vec<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    keys.sort();
    keys
}

/// The keys a table takes: its clap definition's flags.
fn taken<T: Parser>() -> Vec<String> {
    let mut keys: Vec<String> = T::command()
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

#[test]
fn the_documented_keys_are_exactly_the_keys_taken() {
    assert_eq!(documented("[receivers.NAME]"), taken::<ReceiverEntry>());
    let mut senders = taken::<SenderEntry>();
    // The stream's name is the table's name.
    senders.retain(|k| k != "name");
    assert_eq!(documented("[senders.NAME]"), senders);
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("test.toml"), text)
}

#[test]
fn a_table_means_what_its_flags_mean() {
    let config = parse(
        "[receivers.main]\nlisten = \":5300\"\nmax-clients = 0x10\nidle-timeout = 2.5\n\
         allow-anonymous = false\n[senders.\"front door\"]\nsize = \"320x240\"\nloop = true\n",
    )
    .unwrap();
    let main = &config.receivers["main"].args;
    assert_eq!(main.listen.as_ref().unwrap().to_string(), "127.0.0.1:5300");
    assert_eq!(main.max_clients, 16);
    assert!((main.idle_timeout - 2.5).abs() < 1e-9);
    assert!(!main.auth.allow_anonymous);
    // Left out: the flag's default.
    assert_eq!(
        main.max_pending_handshakes,
        framecast_stream::limits::DEFAULT_MAX_PENDING_HANDSHAKES
    );
    let door = &config.senders["front door"].args;
    assert_eq!(door.source.name.as_deref(), Some("front door"));
    assert!(door.source.looping);
    assert_eq!(door.source.size.width, 320);
    // The only receiver is fed in process.
    assert_eq!(door.in_process(), Some("main"));
}

#[test]
fn a_reload_sees_what_changed() {
    let a = parse("[receivers.r]\n[senders.s]\nfps = 5\n[senders.t]\n").unwrap();
    let b = parse("[receivers.r]\n[senders.s]\nfps = 6\n[senders.t]\n").unwrap();
    assert!(a.receivers["r"].same_as(&b.receivers["r"]));
    assert!(!a.senders["s"].same_as(&b.senders["s"]));
    assert!(a.senders["t"].same_as(&b.senders["t"]));
}

#[test]
fn mistakes_are_pointed_at() {
    for (text, at, says) in [
        ("[receiver.x]\n", "test.toml:1:2: receiver", "unknown table"),
        (
            "receivers = 1\n",
            "test.toml:1:13: receivers",
            "must be tables",
        ),
        (
            "[receivers]\nx = 1\n",
            "test.toml:2:5: receivers.x",
            "must be a table",
        ),
        (
            "[receivers.x]\nhttp = true\n",
            "test.toml:2:8: receivers.x.http",
            "not true/false",
        ),
        (
            "[receivers.x]\nhttp = \"a b\"\n",
            "test.toml:2:1: receivers.x.http",
            "invalid value",
        ),
        (
            "[receivers.x]\nallow-anonymous = \"yes\"\n",
            "test.toml:2:19",
            "true or false",
        ),
        (
            "[receivers.x]\nlisten = 2020-01-01\n",
            "test.toml:2:10",
            "a string, a number",
        ),
        (
            "[senders.s]\nname = \"x\"\n",
            "test.toml:2:1: senders.s.name",
            "table's name",
        ),
        ("[senders.s]\n", "test.toml:1:10: senders.s", "no receiver"),
        (
            "[receivers.a]\n[receivers.b]\n[senders.s]\n",
            "test.toml:3:10",
            "`receiver`",
        ),
        (
            "[receivers.a]\n[senders.s]\nto = \":1\"\nreceiver = \"a\"\n",
            "test.toml:4:1",
            "not both",
        ),
        (
            "[senders.\"\"]\nto = \":1\"\n",
            "test.toml:1:10",
            "cannot be empty",
        ),
        ("", "test.toml", "nothing to run"),
    ] {
        let e = parse(text).unwrap_err().to_string();
        assert!(e.starts_with(at), "{text:?}: {e}");
        assert!(e.contains(says), "{text:?}: {e}");
    }
    assert!(similar("max-clients", "max_clients"));
    assert!(similar("max-clients", "max-client"));
    assert!(!similar("max-clients", "listen"));
}
