//! The configuration file of `framecast run --config FILE` (TOML; the
//! format and every key are in `docs/config.md`).
//!
//! Each table is one command's flags, under the flags' own names:
//! `[receivers.NAME]` holds a receiver's flags (what `recv` takes, less
//! how it shows frames), `[senders.NAME]` a sender's (what `send` takes,
//! less what only a command on a terminal needs), NAME being the stream's
//! name. The tables are read by the very clap definitions the command line
//! uses (each key becomes `--key=value`), so a key cannot mean something
//! other than its flag, take other values, or have another default; and a
//! flag added to a command is a key of the file at once.
//!
//! Errors say where: `FILE:LINE:COLUMN: receivers.main.max-clients: …`,
//! from the spans the `toml` crate keeps for every key and value.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Result;
use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::flags::receiver::ReceiverArgs;
use crate::flags::sender::{DestinationArgs, SourceArgs};

/// The largest configuration file read: far more than any real one, and
/// small enough that a wrong path (a video, a disk image) fails at once.
pub(crate) const MAX_CONFIG_LEN: u64 = 1 << 20;

/// The tables a file may hold.
const SECTIONS: [&str; 2] = ["receivers", "senders"];

/// The keys of a sender's table that only a sender with `to` takes: an
/// in-process sender has no connection to frame, encrypt or retry.
const DESTINATION_KEYS: [&str; 8] = [
    "connect-timeout",
    "retry",
    "framing",
    "tls",
    "tls-ca",
    "token-file",
    "nats-token-file",
    "to",
];

/// A configuration file, read and checked.
#[derive(Debug)]
pub(crate) struct Config {
    /// Where it was read from.
    pub(crate) path: PathBuf,
    /// `[receivers.NAME]`, by name.
    pub(crate) receivers: BTreeMap<String, Entry<ReceiverArgs>>,
    /// `[senders.NAME]`, by name (the stream's name).
    pub(crate) senders: BTreeMap<String, Entry<SenderEntry>>,
}

/// One table of the file.
#[derive(Debug)]
pub(crate) struct Entry<T> {
    /// What it asks for, as the command line's flags.
    pub(crate) args: T,
    /// Where it starts, for errors found when it is used.
    pub(crate) at: Location,
    /// What makes it the same on a reload: its flags as given, and the
    /// size and time of change of every file they name (a renewed
    /// certificate or token restarts what uses it).
    identity: Vec<String>,
}

impl<T> Entry<T> {
    /// Whether `other` asks for exactly the same (see `identity`).
    pub(crate) fn same_as(&self, other: &Self) -> bool {
        self.identity == other.identity
    }
}

/// A `[senders.NAME]` table.
#[derive(Debug, Clone, Parser)]
#[command(name = "sender", no_binary_name = true, disable_help_flag = true)]
pub(crate) struct SenderEntry {
    #[command(flatten)]
    pub(crate) source: SourceArgs,

    #[command(flatten)]
    pub(crate) destination: DestinationArgs,

    /// The receiver of this file to feed, in this process: frames are
    /// handed over in memory, with no connection. The default when `to`
    /// is not given and the file has exactly one receiver.
    #[arg(long, value_name = "NAME")]
    pub(crate) receiver: Option<String>,
}

impl SenderEntry {
    /// The receiver of the file this sender feeds in process, if it does.
    pub(crate) fn in_process(&self) -> Option<&str> {
        self.receiver.as_deref()
    }
}

/// A `[receivers.NAME]` table.
#[derive(Debug, Parser)]
#[command(name = "receiver", no_binary_name = true, disable_help_flag = true)]
struct ReceiverEntry {
    #[command(flatten)]
    receiver: ReceiverArgs,
}

/// A place in the file.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    /// The file.
    pub(crate) path: PathBuf,
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column, in characters.
    pub(crate) column: usize,
    /// The key, dotted: `receivers.main.listen`.
    pub(crate) key: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        Ok(())
    }
}

/// An error in the file: where, and what is wrong.
#[derive(Debug)]
pub(crate) struct ConfigError {
    /// Where; `None` when the file could not be read at all.
    pub(crate) at: Option<Location>,
    /// What is wrong.
    pub(crate) message: String,
    /// The file, when there is no location.
    path: PathBuf,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => write!(f, "{at}: {}", self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The text of a file and where each key sits in it.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn at(&self, span: Range<usize>, key: &str) -> Location {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rfind('\n')
            .map_or(before, |i| &before[i + 1..])
            .chars()
            .count()
            + 1;
        Location {
            path: self.path.to_owned(),
            line,
            column,
            key: key.to_owned(),
        }
    }

    fn error(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            at: Some(self.at(span, key)),
            message: message.into(),
            path: self.path.to_owned(),
        }
    }
}

impl Config {
    /// Reads and checks the file at `path`.
    pub(crate) fn load(path: &Path) -> Result<Self, ConfigError> {
        let whole = |message: String| ConfigError {
            at: None,
            message,
            path: path.to_owned(),
        };
        let len = std::fs::metadata(path)
            .map_err(|e| whole(format!("cannot read it: {e}")))?
            .len();
        if len > MAX_CONFIG_LEN {
            return Err(whole(format!(
                "{len} bytes is larger than a configuration file can be ({MAX_CONFIG_LEN} bytes)"
            )));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| whole(format!("cannot read it: {e}")))?;
        Self::parse(path, &text)
    }

    /// Checks `text`, the contents of the file at `path`.
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let source = Source { path, text };
        let root = DeTable::parse(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            source.error(span, "", format!("not valid TOML: {}", e.message().trim()))
        })?;
        let mut receivers = BTreeMap::new();
        let mut senders = BTreeMap::new();
        for (section, value) in root.get_ref() {
            let name = section.get_ref().as_ref();
            if !SECTIONS.contains(&name) {
                return Err(source.error(
                    section.span(),
                    name,
                    "unknown table; a file holds [receivers.NAME] and [senders.NAME] tables",
                ));
            }
            let DeValue::Table(tables) = value.get_ref() else {
                return Err(source.error(
                    value.span(),
                    name,
                    format!("must be tables, [{name}.NAME]"),
                ));
            };
            for (key, table) in tables {
                let entry_name = key.get_ref().as_ref();
                let dotted = format!("{name}.{}", quote_key(entry_name));
                let DeValue::Table(keys) = table.get_ref() else {
                    return Err(source.error(
                        table.span(),
                        &dotted,
                        format!("must be a table, [{dotted}]"),
                    ));
                };
                let at = source.at(key.span(), &dotted);
                if name == "receivers" {
                    let (parsed, identity) = parse_table::<ReceiverEntry>(&source, &dotted, keys)?;
                    receivers.insert(
                        entry_name.to_owned(),
                        Entry {
                            args: parsed.receiver,
                            at,
                            identity,
                        },
                    );
                } else {
                    check_stream_name(&source, key, &dotted)?;
                    if let Some((k, _)) = keys.get_key_value("name") {
                        return Err(source.error(
                            k.span(),
                            &format!("{dotted}.name"),
                            "the stream's name is the table's name: [senders.NAME] (quote it \
                             for spaces: [senders.\"front door\"])",
                        ));
                    }
                    let (mut parsed, identity) =
                        parse_table::<SenderEntry>(&source, &dotted, keys)?;
                    parsed.source.name = Some(entry_name.to_owned());
                    senders.insert(
                        entry_name.to_owned(),
                        (
                            Entry {
                                args: parsed,
                                at,
                                identity,
                            },
                            keys,
                        ),
                    );
                }
            }
        }
        // Where each sender goes, now that every receiver is known.
        let mut checked = BTreeMap::new();
        for (name, (mut entry, keys)) in senders {
            let dotted = format!("senders.{}", quote_key(&name));
            resolve_target(&source, &dotted, &mut entry, keys, &receivers)?;
            checked.insert(name, entry);
        }
        if receivers.is_empty() && checked.is_empty() {
            return Err(ConfigError {
                at: None,
                message: "nothing to run: the file has no [receivers.NAME] or [senders.NAME] \
                          table"
                    .into(),
                path: path.to_owned(),
            });
        }
        let config = Self {
            path: path.to_owned(),
            receivers,
            senders: checked,
        };
        config.check_addresses(&source, &root)?;
        Ok(config)
    }

    /// Two receivers of one file cannot listen on the same address.
    fn check_addresses(
        &self,
        source: &Source<'_>,
        root: &Spanned<DeTable<'_>>,
    ) -> Result<(), ConfigError> {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (name, entry) in &self.receivers {
            let args = &entry.args;
            let listen = args.listen.as_ref().map(|l| ("listen", l.to_string()));
            let http = args.http.http.as_ref().map(|h| ("http", h.to_string()));
            for (key, addr) in listen.into_iter().chain(http) {
                if addr.ends_with(":0") {
                    continue;
                }
                let dotted = format!("receivers.{}.{key}", quote_key(name));
                if let Some(first) = seen.insert(addr.clone(), dotted.clone()) {
                    let span = span_of(root, &["receivers", name, key]).unwrap_or(0..0);
                    return Err(source.error(
                        span,
                        &dotted,
                        format!("{addr} is already taken by {first}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Where a sender's frames go: `to` (an address or NATS), or a receiver of
/// the file (named by `receiver`, or the only one).
fn resolve_target(
    source: &Source<'_>,
    dotted: &str,
    entry: &mut Entry<SenderEntry>,
    keys: &DeTable<'_>,
    receivers: &BTreeMap<String, Entry<ReceiverArgs>>,
) -> Result<(), ConfigError> {
    let key_span = |k: &str| keys.get_key_value(k).map_or(0..0, |(key, _)| key.span());
    let args = &mut entry.args;
    let to = args.destination.to.is_some();
    match (&args.receiver, to) {
        (Some(_), true) => {
            return Err(source.error(
                key_span("receiver"),
                &format!("{dotted}.receiver"),
                "give either `to` (another machine, or NATS) or `receiver` (one of this file), \
                 not both",
            ));
        }
        (Some(name), false) if !receivers.contains_key(name) => {
            return Err(source.error(
                key_span("receiver"),
                &format!("{dotted}.receiver"),
                format!(
                    "no [receivers.{}] in this file{}",
                    quote_key(name),
                    known(receivers)
                ),
            ));
        }
        (None, false) => match receivers.keys().next() {
            Some(only) if receivers.len() == 1 => args.receiver = Some(only.clone()),
            _ => {
                let at = source.at(0..0, dotted);
                return Err(ConfigError {
                    message: if receivers.is_empty() {
                        "says neither where to send (`to`) nor which receiver to feed, and the \
                         file has no receiver"
                            .into()
                    } else {
                        format!(
                            "says neither where to send (`to`) nor which receiver to feed \
                             (`receiver`){}",
                            known(receivers)
                        )
                    },
                    at: Some(Location {
                        line: entry.at.line,
                        column: entry.at.column,
                        ..at
                    }),
                    path: source.path.to_owned(),
                });
            }
        },
        _ => {}
    }
    if args.receiver.is_some() {
        // An in-process sender has no connection: the settings of one
        // would silently mean nothing.
        if let Some((key, _)) = keys
            .iter()
            .find(|(k, _)| DESTINATION_KEYS.contains(&k.get_ref().as_ref()))
        {
            return Err(source.error(
                key.span(),
                &format!("{dotted}.{}", key.get_ref()),
                "is for a sender with `to`; this one feeds a receiver of this file in process",
            ));
        }
    }
    Ok(())
}

/// ", which has [receivers.a], [receivers.b]" for an error message.
fn known(receivers: &BTreeMap<String, Entry<ReceiverArgs>>) -> String {
    if receivers.is_empty() {
        return String::new();
    }
    let names: Vec<String> = receivers
        .keys()
        .map(|n| format!("[receivers.{}]", quote_key(n)))
        .collect();
    format!("; the file has {}", names.join(", "))
}

/// A sender's table name is its stream's name: it must be one a receiver
/// accepts.
fn check_stream_name(
    source: &Source<'_>,
    key: &Spanned<std::borrow::Cow<'_, str>>,
    dotted: &str,
) -> Result<(), ConfigError> {
    let name = key.get_ref().as_ref();
    let max = framecast_stream::handshake::MAX_NAME_LEN;
    let problem = if name.is_empty() {
        Some("a stream's name cannot be empty".to_owned())
    } else if name.len() > max {
        Some(format!("a stream's name is at most {max} bytes"))
    } else if name.chars().any(char::is_control) {
        Some("a stream's name cannot hold control characters".to_owned())
    } else {
        None
    };
    match problem {
        Some(p) => Err(source.error(key.span(), dotted, p)),
        None => Ok(()),
    }
}

/// The span of the key at `path` (table names, then the key), if present.
fn span_of(root: &Spanned<DeTable<'_>>, path: &[&str]) -> Option<Range<usize>> {
    let mut table = root.get_ref();
    let (last, tables) = path.split_last()?;
    for name in tables {
        match table.get(*name)?.get_ref() {
            DeValue::Table(t) => table = t,
            _ => return None,
        }
    }
    table.get_key_value(*last).map(|(k, _)| k.span())
}

/// Reads one table through the clap definition `T`: each key becomes
/// `--key=value` (`--key` for a flag set to true), so the file takes
/// exactly what the flags take. Returns the parsed flags and the table's
/// identity for reloads.
fn parse_table<T: Parser>(
    source: &Source<'_>,
    dotted: &str,
    keys: &DeTable<'_>,
) -> Result<(T, Vec<String>), ConfigError> {
    let command = T::command();
    let mut argv: Vec<String> = Vec::new();
    // For each argument, the key it came from, to point errors at it.
    let mut spans: BTreeMap<String, Range<usize>> = BTreeMap::new();
    for (key, value) in keys {
        let name = key.get_ref().as_ref();
        let key_dotted = format!("{dotted}.{name}");
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(name) && !a.is_hide_set());
        let Some(arg) = arg else {
            let hint = command
                .get_arguments()
                .filter(|a| !a.is_hide_set())
                .filter_map(|a| a.get_long())
                .find(|long| similar(long, name))
                .map(|long| format!("; did you mean `{long}`?"))
                .unwrap_or_default();
            return Err(source.error(
                key.span(),
                &key_dotted,
                format!("unknown key{hint} (docs/config.md lists every key)"),
            ));
        };
        spans.insert(name.to_owned(), key.span());
        let is_flag = !arg.get_action().takes_values();
        let values: Vec<&Spanned<DeValue<'_>>> = match value.get_ref() {
            DeValue::Array(items) => items.iter().collect(),
            _ => vec![value],
        };
        for item in values {
            let text = match item.get_ref() {
                DeValue::String(s) => s.to_string(),
                DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix())
                    .map(|n| n.to_string())
                    .unwrap_or_else(|_| i.to_string()),
                DeValue::Float(f) => f.as_str().to_owned(),
                DeValue::Boolean(b) if is_flag => {
                    if *b {
                        argv.push(format!("--{name}"));
                    }
                    continue;
                }
                // A flag that takes a value never takes a boolean: `http
                // = true` is a mistake, not the host "true".
                DeValue::Boolean(_) => {
                    return Err(source.error(
                        item.span(),
                        &key_dotted,
                        "takes a value (a string or a number), not true/false",
                    ));
                }
                DeValue::Datetime(_) | DeValue::Table(_) | DeValue::Array(_) => {
                    return Err(source.error(
                        item.span(),
                        &key_dotted,
                        "must be a string, a number or true/false",
                    ));
                }
            };
            if is_flag {
                return Err(source.error(
                    item.span(),
                    &key_dotted,
                    format!("must be true or false, not {text:?}"),
                ));
            }
            argv.push(format!("--{name}={text}"));
        }
    }
    let matches = command
        .try_get_matches_from(&argv)
        .and_then(|m| T::from_arg_matches(&m));
    match matches {
        Ok(parsed) => {
            let mut identity = argv;
            identity.extend(stamps(keys));
            Ok((parsed, identity))
        }
        Err(e) => Err(clap_error(source, dotted, &spans, &e)),
    }
}

/// The size and time of change of every file a table names by path, so a
/// reload notices a renewed certificate or token.
fn stamps(keys: &DeTable<'_>) -> Vec<String> {
    const PATH_KEYS: [&str; 6] = [
        "tls-cert",
        "tls-key",
        "tls-ca",
        "token-file",
        "nats-token-file",
        "source",
    ];
    let mut out = Vec::new();
    for key in PATH_KEYS {
        let Some(DeValue::String(path)) = keys.get(key).map(Spanned::get_ref) else {
            continue;
        };
        // A source is a path only in its file forms (raw:PATH, mjpeg:PATH).
        let path = match key {
            "source" => match path.split_once(':') {
                Some(("raw" | "mjpeg", p)) => p,
                _ => continue,
            },
            _ => path.as_ref(),
        };
        let stamp = std::fs::metadata(path)
            .map(|m| {
                let changed = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                format!("{key}@{}:{changed}", m.len())
            })
            .unwrap_or_else(|_| format!("{key}@missing"));
        out.push(stamp);
    }
    out
}

/// A clap error on a table, in the file's terms.
fn clap_error(
    source: &Source<'_>,
    dotted: &str,
    spans: &BTreeMap<String, Range<usize>>,
    e: &clap::Error,
) -> ConfigError {
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => long_name(s),
        Some(ContextValue::Strings(v)) => v.first().and_then(|s| long_name(s)),
        _ => None,
    };
    // The key to point at: the one in error, or for a key that needs
    // another ("tls-cert" needs "tls-key"), the first one given.
    let (key, span) = match arg.as_deref().and_then(|a| spans.get_key_value(a)) {
        Some((k, s)) => (format!("{dotted}.{k}"), s.clone()),
        // A key that needs another: the first key given.
        None => match spans.iter().next() {
            Some((k, s)) => (format!("{dotted}.{k}"), s.clone()),
            None => (dotted.to_owned(), 0..0),
        },
    };
    let message = match e.kind() {
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let value = match e.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(v)) => format!("{v:?}"),
                _ => "the value".to_owned(),
            };
            let why = std::error::Error::source(e)
                .map(ToString::to_string)
                .or_else(|| match e.get(ContextKind::ValidValue) {
                    Some(ContextValue::Strings(v)) => Some(format!("expected {}", v.join(", "))),
                    _ => None,
                })
                .unwrap_or_else(|| "not accepted".to_owned());
            format!("invalid value {value}: {why}")
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::Strings(v)) => v
                    .iter()
                    .filter_map(|s| long_name(s))
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => "another key".to_owned(),
            };
            let key_name = spans.keys().next().map_or("it", String::as_str);
            format!("also needs {missing} (given with `{key_name}`)")
        }
        ErrorKind::ArgumentConflict => {
            let other = match e.get(ContextKind::PriorArg) {
                Some(ContextValue::String(s)) => long_name(s),
                _ => None,
            };
            match other {
                Some(o) => format!("cannot be used with `{o}`"),
                None => "conflicts with another key".to_owned(),
            }
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_owned()
        }
    };
    ConfigError {
        at: Some(source.at(span, &key)),
        message,
        path: source.path.to_owned(),
    }
}

/// `--max-clients <N>` → `max-clients`.
fn long_name(shown: &str) -> Option<String> {
    let rest = shown.strip_prefix("--")?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

/// Whether two key names are one slip apart (a letter missing, extra,
/// swapped or wrong, or `_` for `-`).
fn similar(known: &str, given: &str) -> bool {
    let given = given.replace('_', "-");
    if known == given {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (known.chars().collect(), given.chars().collect());
    // Levenshtein distance, small strings only.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()] <= 2
}

/// A table name as TOML writes it: bare when it can be, else quoted.
pub(crate) fn quote_key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys docs/config.md lists under `heading`, in its table.
    fn documented(heading: &str) -> Vec<String> {
        let doc = include_str!("../../../docs/config.md");
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
}
