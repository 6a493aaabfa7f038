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

use anyhow::Result;
use clap::Parser;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::flags::receiver::ReceiverArgs;
use crate::flags::sender::{DestinationArgs, SourceArgs};

mod table;

use table::{parse_table, quote_key};

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

#[cfg(test)]
mod tests;
