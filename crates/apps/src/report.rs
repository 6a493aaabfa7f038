//! How errors reach the user: the error and its causes on one line, then
//! what to do about it on a `hint:` line of its own; and the log's set-up.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, IsTerminal};

/// What the user can do about an error, in this program's terms: attached
/// to an error with [`HintExt::hint`] (or `.context(Hint(..))`), printed on
/// a line of its own after the error.
#[derive(Debug)]
pub(crate) struct Hint(pub(crate) Cow<'static, str>);

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Hint {}

/// Attaches a [`Hint`] to an error or a failed result.
pub(crate) trait HintExt<T> {
    /// The error with `hint` for the user.
    fn hint(self, hint: impl Into<Cow<'static, str>>) -> anyhow::Result<T>;

    /// The error with `hint` when there is one.
    fn maybe_hint(self, hint: Option<impl Into<Cow<'static, str>>>) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> HintExt<T> for Result<T, E> {
    fn hint(self, hint: impl Into<Cow<'static, str>>) -> anyhow::Result<T> {
        self.map_err(|e| e.into().context(Hint(hint.into())))
    }

    fn maybe_hint(self, hint: Option<impl Into<Cow<'static, str>>>) -> anyhow::Result<T> {
        self.map_err(|e| hinted(e, hint))
    }
}

/// `e` with `hint` for the user, when there is one.
pub(crate) fn hinted(
    e: impl Into<anyhow::Error>,
    hint: Option<impl Into<Cow<'static, str>>>,
) -> anyhow::Error {
    match hint {
        Some(h) => e.into().context(Hint(h.into())),
        None => e.into(),
    }
}

/// Prints an error and each of its causes once, then its hint if any.
pub(crate) fn report(e: &anyhow::Error) {
    let (line, hint) = lines(e);
    eprintln!("error: {line}");
    if let Some(hint) = hint {
        eprintln!("hint: {hint}");
    }
}

/// The error and its causes on one line, and the hint apart.
fn lines(e: &anyhow::Error) -> (String, Option<String>) {
    let hint = e.downcast_ref::<Hint>().map(ToString::to_string);
    // anyhow's context wrappers do not downcast as the context's type in
    // the chain: the hint is told apart by its text.
    let text: Vec<String> = e
        .chain()
        .map(ToString::to_string)
        .filter(|t| Some(t) != hint.as_ref())
        .collect();
    (text.join(": "), hint)
}

/// Whether the error is a reader that went away (`| head`): not an error
/// for a command-line tool.
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Logs to stderr: info by default, warnings only when `quiet`; `RUST_LOG`
/// wins over both.
pub(crate) fn init_logging(quiet: bool) {
    // The NATS client's own lines repeat ours ("connected", "closed") at
    // info: only its warnings and errors are shown by default.
    let default = if quiet {
        "warn"
    } else {
        "info,async_nats=warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_not_part_of_the_error_line() {
        let e: Result<(), io::Error> = Err(io::Error::other("disk on fire"));
        let e = anyhow::Context::context(e, "cannot save")
            .hint("put it out")
            .unwrap_err();
        assert_eq!(
            lines(&e),
            (
                "cannot save: disk on fire".into(),
                Some("put it out".into())
            )
        );
        let none: Option<&str> = None;
        let e: Result<(), io::Error> = Err(io::Error::other("x"));
        assert!(
            e.maybe_hint(none)
                .unwrap_err()
                .downcast_ref::<Hint>()
                .is_none()
        );
    }
}
