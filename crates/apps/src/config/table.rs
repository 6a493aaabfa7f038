//! One table of the file read through a command's clap definition: each
//! key becomes `--key=value`, and clap's errors are said in the file's
//! terms (the key and its place).

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::SystemTime;

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{ConfigError, Source};

/// Reads one table through the clap definition `T`: each key becomes
/// `--key=value` (`--key` for a flag set to true), so the file takes
/// exactly what the flags take. Returns the parsed flags and the table's
/// identity for reloads.
pub(super) fn parse_table<T: Parser>(
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
pub(super) fn similar(known: &str, given: &str) -> bool {
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
pub(super) fn quote_key(name: &str) -> String {
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
