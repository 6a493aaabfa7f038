//! Stream names: [`StreamName`], the one checked constructor of a
//! stream's name, whatever brought it (a sender's hello, a NATS subject, a
//! legacy sender's address); and the one-to-one mapping of names to NATS
//! subject tokens and back ([`subject_token`], [`token_name`],
//! [`subject_name`]).

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::frame::StreamId;
use crate::handshake::MAX_NAME_LEN;

/// A stream's name, checked: at most [`MAX_NAME_LEN`] bytes of UTF-8 (the
/// length is checked before anything is allocated), not empty, and without
/// control characters (`\n`, `\u{1b}`, `\u{7f}` ...: refused, not
/// escaped, as a hello holding one is refused). Other characters, other
/// scripts and invisible ones (bidirectional controls, zero-width spaces)
/// included, are kept as they came: a name is shown through
/// [`printable`](Self::printable), which escapes those.
///
/// Every stream of a receiver is named through [`StreamName::new`]: the
/// name of a hello, the name a NATS subject stands for, and the address
/// and number an unnamed (legacy) sender is named by
/// ([`unnamed`](Self::unnamed)).
///
/// ```
/// use framecast_stream::StreamName;
///
/// let name = StreamName::new("front door")?;
/// assert_eq!(name.as_str(), "front door");
/// assert!(StreamName::new("\u{1b}[2Jevil").is_err());
/// assert!(StreamName::new(&"n".repeat(65)).is_err());
/// // Kept, and shown escaped.
/// let rtl = StreamName::new("cam\u{202e}4pm")?;
/// assert_eq!(rtl.printable(), "cam\\u{202e}4pm");
/// # Ok::<(), framecast_stream::NameError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamName(Arc<str>);

/// Why a text is not a stream name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty.
    #[error("the name is empty")]
    Empty,
    /// Longer than [`MAX_NAME_LEN`] bytes.
    #[error("the name is longer than 64 bytes")]
    TooLong {
        /// Its length, in bytes.
        len: usize,
    },
    /// It holds a control character.
    #[error("the name holds control characters")]
    Control,
}

impl NameError {
    /// What is wrong, in words (the same as `Display`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Empty => "the name is empty",
            Self::TooLong { .. } => "the name is longer than 64 bytes",
            Self::Control => "the name holds control characters",
        }
    }
}

impl StreamName {
    /// Checks `name` and makes it a stream name.
    ///
    /// # Errors
    ///
    /// [`NameError`] saying which rule `name` breaks.
    pub fn new(name: &str) -> Result<Self, NameError> {
        Self::check(name)?;
        Ok(Self(Arc::from(name)))
    }

    /// Checks `name` as [`new`](Self::new) does, without making anything.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn check(name: &str) -> Result<(), NameError> {
        if name.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong { len: name.len() });
        }
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.chars().any(char::is_control) {
            return Err(NameError::Control);
        }
        Ok(())
    }

    /// The name of an unnamed stream (a legacy sender, or one whose hello
    /// named nothing): its peer's address without the port, and its
    /// number: `192.0.2.7 #3`.
    ///
    /// ```
    /// use framecast_stream::{StreamId, StreamName};
    ///
    /// let name = StreamName::unnamed("[2001:db8::1]:4000".parse()?, StreamId::new(7));
    /// assert_eq!(name.as_str(), "2001:db8::1 #7");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unnamed(peer: SocketAddr, id: StreamId) -> Self {
        // The longest IPv6 address and number fit in MAX_NAME_LEN bytes,
        // and neither holds a control character.
        Self::new(&format!("{} #{id}", peer.ip())).unwrap_or_else(|_| Self(Arc::from("#")))
    }

    /// The name as it came.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name to show (in a log line, a terminal, a metrics label, a web
    /// page): its bidirectional controls and zero-width characters escaped
    /// (see [`framecast_net::printable`]).
    pub fn printable(&self) -> std::borrow::Cow<'_, str> {
        framecast_net::printable(&self.0)
    }

    pub(crate) fn into_arc(self) -> Arc<str> {
        self.0
    }
}

impl AsRef<str> for StreamName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamName {
    /// The name as [`printable`](Self::printable) shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.printable())
    }
}

/// The character that starts an escape in a subject token (see
/// [`subject_token`]).
pub const SUBJECT_ESCAPE: char = '~';

/// Whether a byte of a name stands for itself in a subject token.
fn kept(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A stream name made into one subject token, one-to-one (two names never
/// make one token, and [`token_name`] gives the name back): ASCII letters,
/// digits, `-` and `_` stand for themselves; every other byte of the
/// name's UTF-8 (space, `.`, `*`, `>`, `~`, other punctuation, the bytes of
/// anything beyond ASCII) is written `~` and two lowercase hexadecimal
/// digits; the empty name is the token `~`. A stream named `studio
/// pattern` is published to `framecast.studio~20pattern`; `a.b`, `a_b`,
/// `a*b` and `a>b` are four subjects. The scheme is part of the protocol
/// (docs/protocol.md, section 9).
///
/// ```
/// use framecast_stream::name::subject_token;
///
/// assert_eq!(subject_token("front_door-2"), "front_door-2");
/// assert_eq!(subject_token("studio pattern"), "studio~20pattern");
/// assert_eq!(subject_token("a.b"), "a~2eb");
/// assert_eq!(subject_token("caméra>1"), "cam~c3~a9ra~3e1");
/// assert_eq!(subject_token(""), "~");
/// ```
pub fn subject_token(name: &str) -> String {
    if name.is_empty() {
        return SUBJECT_ESCAPE.into();
    }
    let escaped = name.bytes().filter(|&b| !kept(b)).count();
    let mut token = String::with_capacity(name.len() + 2 * escaped);
    for b in name.bytes() {
        if kept(b) {
            token.push(char::from(b));
        } else {
            token.push(SUBJECT_ESCAPE);
            token.push(char::from(HEX[usize::from(b >> 4)]));
            token.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    token
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The name a subject token made by [`subject_token`] stands for; `None`
/// when `token` is not exactly what [`subject_token`] makes of some name
/// (an escape of a byte that stands for itself, uppercase hexadecimal, a
/// `~` not followed by two hexadecimal digits, bytes that are not UTF-8
/// once decoded, or a character that is never in a token): a token has at
/// most one name and a name one token. `token` is not allocated for unless
/// it is one.
///
/// ```
/// use framecast_stream::name::{subject_token, token_name};
///
/// assert_eq!(token_name("a~2eb").as_deref(), Some("a.b"));
/// assert_eq!(token_name("a_b").as_deref(), Some("a_b"));
/// assert_eq!(token_name("~").as_deref(), Some(""));
/// for name in ["a.b", "a_b", "a*b", "a>b", "caméra 1", "~7e"] {
///     assert_eq!(token_name(&subject_token(name)).as_deref(), Some(name));
/// }
/// // Not made by subject_token: no name.
/// assert_eq!(token_name("a~2Eb"), None); // uppercase
/// assert_eq!(token_name("~61"), None); // 'a' stands for itself
/// assert_eq!(token_name("a.b"), None); // two tokens
/// assert_eq!(token_name("caf\u{e9}"), None); // raw UTF-8
/// ```
pub fn token_name(token: &str) -> Option<String> {
    if token == "~" {
        return Some(String::new());
    }
    let bytes = token.as_bytes();
    // Check it all first, and count the name's bytes.
    let (mut i, mut len) = (0, 0);
    while i < bytes.len() {
        let b = bytes[i];
        if kept(b) {
            i += 1;
        } else if b == b'~' {
            let hi = bytes.get(i + 1).and_then(|&h| hex_digit(h))?;
            let lo = bytes.get(i + 2).and_then(|&l| hex_digit(l))?;
            if kept(hi << 4 | lo) {
                return None;
            }
            i += 3;
        } else {
            return None;
        }
        len += 1;
    }
    if len == 0 {
        return None;
    }
    let mut name = Vec::with_capacity(len);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'~' {
            // Checked above.
            let hi = hex_digit(bytes[i + 1]).unwrap_or(0);
            let lo = hex_digit(bytes[i + 2]).unwrap_or(0);
            name.push(hi << 4 | lo);
            i += 3;
        } else {
            name.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(name).ok()
}

/// A lowercase hexadecimal digit's value.
fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// The name of a stream whose subject ends with `tokens` (what follows a
/// subscription's literal part: one token, or several separated by `.`):
/// each token read back into the name it was made from ([`token_name`]),
/// or taken as written when [`subject_token`] did not make it, joined by
/// `.`. A name longer than [`MAX_NAME_LEN`] bytes (no framecast sender
/// makes one) is not cut into another subject's name: it keeps its first
/// characters (whole ones, at most `MAX_NAME_LEN - NAME_HASH_LEN` bytes)
/// and ends with `~` and eight lowercase hexadecimal digits of the 32-bit
/// FNV-1a hash of `tokens`' bytes, so two subjects alike in their first
/// 64 bytes are two names. The result is a name to check
/// ([`StreamName::new`]): it may hold control characters.
///
/// ```
/// use framecast_stream::name::subject_name;
///
/// assert_eq!(subject_name("studio~20pattern"), "studio pattern");
/// assert_eq!(subject_name("door.cam"), "door.cam");
/// assert_eq!(subject_name("Caf\u{e9}~"), "Caf\u{e9}~");
/// let long = "x".repeat(70);
/// assert_eq!(subject_name(&long), format!("{}~77f3c97d", "x".repeat(55)));
/// ```
pub fn subject_name(tokens: &str) -> String {
    let rest = tokens;
    let tokens: Vec<Cow<'_, str>> = rest
        .split('.')
        .map(|t| token_name(t).map_or(Cow::Borrowed(t), Cow::Owned))
        .collect();
    let len = tokens.iter().map(|t| t.len()).sum::<usize>() + tokens.len() - 1;
    let keep = if len <= MAX_NAME_LEN {
        len
    } else {
        MAX_NAME_LEN - NAME_HASH_LEN
    };
    let mut name = String::with_capacity(MAX_NAME_LEN.min(len));
    'tokens: for (i, token) in tokens.iter().enumerate() {
        for c in (if i == 0 { "" } else { "." }).chars().chain(token.chars()) {
            if name.len() + c.len_utf8() > keep {
                break 'tokens;
            }
            name.push(c);
        }
    }
    if len > MAX_NAME_LEN {
        use std::fmt::Write as _;
        let _ = write!(name, "~{:08x}", fnv1a(rest.as_bytes()));
    }
    name
}

/// How many bytes of a name made from an over-long subject are its hash:
/// `~` and eight hexadecimal digits (see [`subject_name`]).
pub const NAME_HASH_LEN: usize = 9;

/// FNV-1a, 32 bits: the same on every machine and in every run.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_shown_escaped() {
        assert_eq!(StreamName::new("door").unwrap().as_str(), "door");
        assert_eq!(
            StreamName::new(&"é".repeat(32)).unwrap().as_str().len(),
            MAX_NAME_LEN
        );
        assert_eq!(
            StreamName::new(&"n".repeat(MAX_NAME_LEN + 1)),
            Err(NameError::TooLong {
                len: MAX_NAME_LEN + 1
            })
        );
        assert_eq!(StreamName::new(""), Err(NameError::Empty));
        for bad in ["a\nb", "\u{1b}[2J", "x\u{7f}", "\u{9b}31m", "tab\there"] {
            assert_eq!(StreamName::new(bad), Err(NameError::Control), "{bad:?}");
        }
        let hidden = StreamName::new("do\u{200b}or\u{202e}").unwrap();
        assert_eq!(hidden.as_str(), "do\u{200b}or\u{202e}");
        assert_eq!(hidden.to_string(), "do\\u{200b}or\\u{202e}");
        let v6 = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"
            .parse()
            .unwrap();
        let longest = StreamName::unnamed(v6, StreamId::new(u32::MAX));
        assert!(longest.as_str().ends_with(&format!(" #{}", u32::MAX)));
    }

    #[test]
    fn tokens_not_made_by_subject_token_have_no_name() {
        for token in [
            "", "~~", "~2", "~2g", "a~2E", "~41", "~5f", "~2d", "~30", "a.b", "a b", "é", "~c3",
            "~ff", "a*", ">",
        ] {
            assert_eq!(token_name(token), None, "{token:?}");
        }
    }
}
