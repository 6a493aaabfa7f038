//! `framecast bench --json` keeps the output contract written in
//! docs/performance.md: the real command, run briefly, prints exactly the
//! keys that table lists. No figure is checked (timings belong to
//! benchmarks, not tests).

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::BIN;

/// The keys the contract table of docs/performance.md lists.
fn documented_keys() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/performance.md"
    ))
    .expect("docs/performance.md");
    let section = doc
        .split("\n## `framecast bench --json`")
        .nth(1)
        .expect("the section on `framecast bench --json`");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(key, _)| key.to_owned())
        .collect()
}

/// Every key of `value`, nested ones joined with dots.
fn keys(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let serde_json::Value::Object(map) = value {
        for (k, v) in map {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            keys(v, &key, out);
            out.insert(key);
        }
    }
}

#[test]
fn bench_json_prints_the_documented_keys() {
    let documented = documented_keys();
    assert!(
        documented.contains("sender.cpu_us_per_frame") && documented.len() > 10,
        "the contract table was not found: {documented:?}"
    );
    let out = Command::new(BIN)
        .args(["bench", "--frames", "100", "--json"])
        .output()
        .expect("framecast bench");
    assert!(
        out.status.success(),
        "framecast bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    let mut printed = BTreeSet::new();
    keys(&json, "", &mut printed);
    // Free-running frames carry capture times, so the latency is there.
    assert!(json["latency_ms"].is_object(), "{json}");
    let undocumented: Vec<_> = printed.difference(&documented).collect();
    let missing: Vec<_> = documented.difference(&printed).collect();
    assert!(
        undocumented.is_empty() && missing.is_empty(),
        "printed but not documented: {undocumented:?}; documented but not printed: {missing:?}"
    );
    // The counts agree with what was asked.
    assert_eq!(json["frames"], 100);
    assert_eq!(json["fps_asked"], 0);
    let shown = json["shown"].as_u64().unwrap();
    assert!((1..=100).contains(&shown), "{json}");
    assert!(json["sender"]["cpu_us_per_frame"].as_f64().unwrap() > 0.0);
    assert!(json["receiver"]["cpu_us_per_frame"].as_f64().unwrap() > 0.0);
}
