//! [`NatsUrl`]: where the NATS servers are, the subject, and the
//! credentials; and the subject rules ([`check_subject`]; names become
//! subject tokens by [`subject_token`](crate::subject_token)).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::{NatsError, NatsLimits};
#[cfg(test)]
use framecast_stream::name::{subject_token, token_name};

/// The NATS client port.
pub const DEFAULT_NATS_PORT: u16 = 4222;

/// The largest token accepted (from a file or the environment), in bytes:
/// checked before the file is read.
pub const MAX_TOKEN_LEN: usize = 4096;

/// The longest subject accepted, in bytes. NATS has no fixed limit; this
/// one keeps a subject well inside the server's control-line limit (4 KiB).
pub const MAX_SUBJECT_LEN: usize = 1024;

/// A secret that never shows in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One NATS server: a host (name, IPv4, or IPv6 without brackets) and a
/// port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Server {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Where frames go to or come from over NATS:
/// `nats://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]...][/SUBJECT]`.
///
/// - Several servers, separated by commas, are one list: the client
///   connects to the first that answers, in the order given, and fails over
///   along the list (and to the servers the cluster announces) when its
///   server goes away. Give each machine the list in its own order to
///   spread clients over the servers.
/// - The port defaults to [`DEFAULT_NATS_PORT`]; IPv6 hosts go in brackets.
/// - `USER:PASSWORD` (percent-encoded where they hold `@ : / , %`) log in
///   to every server of the list; a token is given apart
///   ([`with_token`](Self::with_token)), never in the URL. Neither ever
///   shows in `Display`, `Debug` or an error.
/// - `SUBJECT` is what the command publishes to or subscribes to; what it
///   may hold depends on the use (wildcards only for subscribing).
///
/// ```
/// use framecast_nats::NatsUrl;
///
/// let url: NatsUrl = "nats://cam:s3cret@10.0.0.1,10.0.0.2:4223/site1.>".parse()?;
/// assert_eq!(url.servers(), ["10.0.0.1:4222", "10.0.0.2:4223"]);
/// assert_eq!(url.subject(), Some("site1.>"));
/// // The password never shows.
/// assert_eq!(url.to_string(), "nats://cam@10.0.0.1:4222,10.0.0.2:4223/site1.>");
/// assert!(!format!("{url:?}").contains("s3cret"));
/// # Ok::<(), framecast_nats::NatsError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct NatsUrl {
    pub(crate) servers: Vec<Server>,
    subject: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<Secret>,
    pub(crate) token: Option<Secret>,
    limits: NatsLimits,
}

impl fmt::Debug for NatsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsUrl")
            .field("servers", &self.servers())
            .field("subject", &self.subject)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("token", &self.token)
            .field("limits", &self.limits)
            .finish()
    }
}

impl fmt::Display for NatsUrl {
    /// The URL without its password (the user name is shown).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nats://")?;
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        write!(f, "{}", self.servers().join(","))?;
        if let Some(subject) = &self.subject {
            write!(f, "/{subject}")?;
        }
        Ok(())
    }
}

impl FromStr for NatsUrl {
    type Err = NatsError;

    fn from_str(s: &str) -> Result<Self, NatsError> {
        let bad = |reason: String| NatsError::Url(reason);
        let s = s.trim();
        let rest = s
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("nats://"))
            .map(|_| &s[7..])
            .ok_or_else(|| bad("it must start with nats://".into()))?;
        let (authority, subject) = match rest.split_once('/') {
            Some((a, subject)) => (a, Some(subject)),
            None => (rest, None),
        };
        // The credentials end at the last '@' (a password may hold more,
        // percent-encoded or not).
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, password) = match u.split_once(':') {
                    Some((user, password)) => (user, Some(password)),
                    None => (u, None),
                };
                let user = percent_decode(user)
                    .map_err(|e| bad(format!("the user name {e}")))?
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| bad("the user name before '@' is empty".into()))?;
                let password = match password {
                    Some(p) => Some(Secret(
                        percent_decode(p)
                            .map_err(|e| bad(format!("the password {e}")))?
                            .unwrap_or_default(),
                    )),
                    None => None,
                };
                (Some(user), password)
            }
        };
        if hosts.is_empty() {
            return Err(bad("no server: give nats://HOST[:PORT]".into()));
        }
        let servers = hosts
            .split(',')
            .map(parse_server)
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let subject = match subject {
            None | Some("") => None,
            Some(subject) => {
                check_subject(subject, true)?;
                Some(subject.to_owned())
            }
        };
        Ok(Self {
            servers,
            subject,
            user,
            password,
            token: None,
            limits: NatsLimits::default(),
        })
    }
}

/// `HOST[:PORT]` or `[IPV6][:PORT]`.
fn parse_server(s: &str) -> Result<Server, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("an empty server in the list (two commas in a row?)".into());
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{s:?}: an IPv6 address needs its closing ']'"))?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{s:?}: not an IPv6 address"));
        }
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("{s:?}: expected [IPV6]:PORT")),
            },
        }
    } else if s.matches(':').count() > 1 {
        return Err(format!("{s:?}: put an IPv6 address in brackets"));
    } else {
        match s.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !host_ok {
        return Err(format!("{s:?}: not a host name or address"));
    }
    let port = match port {
        None => DEFAULT_NATS_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("{s:?}: the port must be a number from 1 to 65535"))?,
    };
    Ok(Server {
        host: host.to_owned(),
        port,
    })
}

/// Decodes `%XX` escapes; `None` for an empty string. The error never
/// quotes the input (it may be a password).
fn percent_decode(s: &str) -> Result<Option<String>, &'static str> {
    if s.is_empty() {
        return Ok(None);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("has a '%' that is not followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map(Some)
        .map_err(|_| "is not UTF-8 once decoded")
}

impl NatsUrl {
    /// The servers, as `HOST:PORT`, in the order given.
    pub fn servers(&self) -> Vec<String> {
        self.servers.iter().map(ToString::to_string).collect()
    }

    /// The subject after the servers, if one was given.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The same servers and credentials with another subject (checked as
    /// for subscribing: wildcards allowed).
    ///
    /// # Errors
    ///
    /// [`NatsError::Subject`] when it is not a valid subject.
    pub fn with_subject(mut self, subject: &str) -> Result<Self, NatsError> {
        check_subject(subject, true)?;
        self.subject = Some(subject.to_owned());
        Ok(self)
    }

    /// The clients' timeouts and capacities (defaults unless set with
    /// [`with_limits`](Self::with_limits)).
    pub fn limits(&self) -> NatsLimits {
        self.limits
    }

    /// The same URL with other timeouts and capacities; they are checked
    /// when a client is made from it.
    pub fn with_limits(mut self, limits: NatsLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether every server of the list is on this machine: a loopback
    /// address or `localhost`.
    ///
    /// ```
    /// use framecast_nats::NatsUrl;
    ///
    /// assert!("nats://127.0.0.1,localhost:4223,[::1]".parse::<NatsUrl>()?.is_loopback());
    /// assert!(!"nats://127.0.0.1,10.0.0.2".parse::<NatsUrl>()?.is_loopback());
    /// # Ok::<(), framecast_nats::NatsError>(())
    /// ```
    pub fn is_loopback(&self) -> bool {
        // framecast_net's check, the one every framecast server uses.
        self.servers.iter().all(|s| {
            s.host.eq_ignore_ascii_case("localhost")
                || s.host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(framecast_net::is_loopback)
        })
    }

    /// Whether a user name (and password) or a token will be sent.
    pub fn has_credentials(&self) -> bool {
        self.user.is_some() || self.token.is_some()
    }

    /// Logs in with `token` instead of a user name and password.
    ///
    /// # Errors
    ///
    /// [`NatsError::Credentials`] when the URL already holds a user name,
    /// or the token is empty, longer than [`MAX_TOKEN_LEN`], or holds
    /// whitespace or control characters.
    pub fn with_token(mut self, token: impl Into<String>) -> Result<Self, NatsError> {
        if self.user.is_some() {
            return Err(NatsError::Credentials(
                "give either a user name and password in the URL or a token, not both",
            ));
        }
        let token = token.into();
        check_token(&token).map_err(NatsError::Credentials)?;
        self.token = Some(Secret(token));
        Ok(self)
    }

    /// Logs in with the token held in the file at `path` (one line; a
    /// final line break is ignored). The file's size is checked before it
    /// is read.
    ///
    /// # Errors
    ///
    /// [`NatsError::TokenFile`] when the file cannot be read or is larger
    /// than [`MAX_TOKEN_LEN`] (plus a line break), and those of
    /// [`with_token`](Self::with_token).
    pub fn with_token_file(self, path: &Path) -> Result<Self, NatsError> {
        let token_file = |source| NatsError::TokenFile {
            path: path.to_owned(),
            source,
        };
        let len = std::fs::metadata(path).map_err(token_file)?.len();
        if len > MAX_TOKEN_LEN as u64 + 2 {
            return Err(NatsError::TokenFileTooLarge {
                path: path.to_owned(),
                len,
                max: MAX_TOKEN_LEN,
            });
        }
        let text = std::fs::read_to_string(path).map_err(token_file)?;
        let token = text.strip_suffix('\n').unwrap_or(&text);
        let token = token.strip_suffix('\r').unwrap_or(token);
        self.with_token(token)
    }
}

fn check_token(token: &str) -> Result<(), &'static str> {
    if token.is_empty() {
        return Err("the token is empty");
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err("the token is longer than 4096 bytes");
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the token holds whitespace or control characters");
    }
    Ok(())
}

/// Checks a NATS subject: tokens separated by `.`, none empty, no
/// whitespace or control characters, at most [`MAX_SUBJECT_LEN`] bytes;
/// with `wildcards`, `*` may stand for a whole token and `>` for the whole
/// last one; without, neither may appear at all.
///
/// ```
/// use framecast_nats::check_subject;
///
/// assert!(check_subject("framecast.>", true).is_ok());
/// assert!(check_subject("framecast.>", false).is_err());
/// assert!(check_subject("a..b", true).is_err());
/// assert!(check_subject("cam 1", true).is_err());
/// ```
///
/// # Errors
///
/// [`NatsError::Subject`] saying what is wrong.
pub fn check_subject(subject: &str, wildcards: bool) -> Result<(), NatsError> {
    let bad = |reason: &'static str| {
        Err(NatsError::Subject {
            subject: subject.chars().take(MAX_SUBJECT_LEN).collect(),
            reason,
        })
    };
    if subject.is_empty() {
        return bad("it is empty");
    }
    if subject.len() > MAX_SUBJECT_LEN {
        return bad("it is longer than 1024 bytes");
    }
    if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it holds whitespace or control characters");
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, token) in tokens.iter().enumerate() {
        if token.is_empty() {
            return bad("a token between dots is empty");
        }
        let wild = *token == "*" || *token == ">";
        if wild && !wildcards {
            return bad("wildcards (* and >) are only for subscribing");
        }
        if *token == ">" && i + 1 != tokens.len() {
            return bad("> may only be the last token");
        }
        if !wild && token.contains(['*', '>']) {
            return bad("* and > may only stand for a whole token");
        }
    }
    Ok(())
}

/// Whether some subject `PREFIX.TOKEN` (what a receiver publishing under
/// `prefix` sends, one token per stream) matches the subscription
/// `pattern`: a receiver subscribed to `pattern` and publishing under
/// `prefix` on the same servers would receive its own frames again.
pub(crate) fn publishes_into(prefix: &str, pattern: &str) -> bool {
    let prefix: Vec<&str> = prefix.split('.').collect();
    let pattern: Vec<&str> = pattern.split('.').collect();
    for (i, token) in pattern.iter().enumerate() {
        match prefix.get(i) {
            // `>` stands for the rest (at least the stream's token).
            _ if *token == ">" => return true,
            Some(p) if *token == "*" || token == p => {}
            Some(_) => return false,
            // The stream's own token: any name may take it.
            None => return i + 1 == pattern.len(),
        }
    }
    false
}

/// Whether `subject` (no wildcards) matches `pattern` (wildcards allowed).
pub(crate) fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<NatsUrl, String> {
        s.parse::<NatsUrl>().map_err(|e| e.to_string())
    }

    #[test]
    fn urls_parse_with_defaults_lists_and_credentials() {
        let u = parse("nats://127.0.0.1").unwrap();
        assert_eq!(u.servers(), ["127.0.0.1:4222"]);
        assert_eq!(u.subject(), None);
        assert!(!u.has_credentials());

        let u = parse("NATS://a:1,b,[::1]:3/framecast").unwrap();
        assert_eq!(u.servers(), ["a:1", "b:4222", "[::1]:3"]);
        assert_eq!(u.subject(), Some("framecast"));
        assert_eq!(u.to_string(), "nats://a:1,b:4222,[::1]:3/framecast");

        let u = parse("nats://me:p%40ss%3Aw@host:4222/").unwrap();
        assert_eq!(u.user.as_deref(), Some("me"));
        assert_eq!(u.password, Some(Secret("p@ss:w".into())));
        assert_eq!(u.subject(), None);
        // An '@' in a password, unencoded: the last '@' ends the userinfo.
        let u = parse("nats://me:a@b@host").unwrap();
        assert_eq!(u.password, Some(Secret("a@b".into())));
        assert_eq!(u.servers(), ["host:4222"]);
    }

    #[test]
    fn bad_urls_say_why_without_quoting_the_password() {
        for (url, needle) in [
            ("127.0.0.1:4222", "nats://"),
            ("http://h", "nats://"),
            ("nats://", "no server"),
            ("nats://a,,b", "empty server"),
            ("nats://h:0", "port"),
            ("nats://h:99999", "port"),
            ("nats://::1", "brackets"),
            ("nats://h/a..b", "empty"),
            ("nats://h/a b", "whitespace"),
            ("nats://h/a.>.b", "last token"),
            ("nats://h/a*", "whole token"),
            ("nats://:secret@h", "user name"),
            ("nats://u:%zzsecret@h", "password"),
        ] {
            let e = parse(url).unwrap_err();
            assert!(e.contains(needle), "{url}: {e}");
            assert!(!e.contains("secret"), "{url}: {e}");
        }
    }

    #[test]
    fn tokens_exclude_passwords_and_are_checked() {
        let u = parse("nats://h").unwrap();
        let t = u.clone().with_token("abc").unwrap();
        assert!(t.has_credentials());
        assert!(!format!("{t:?}").contains("abc"));
        assert!(u.clone().with_token("").is_err());
        assert!(u.clone().with_token("a b").is_err());
        assert!(u.with_token("x".repeat(MAX_TOKEN_LEN + 1)).is_err());
        let e = parse("nats://u:p@h")
            .unwrap()
            .with_token("abc")
            .unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret-token\n").unwrap();
        let t = parse("nats://h").unwrap().with_token_file(&file).unwrap();
        assert_eq!(t.token, Some(Secret("s3cret-token".into())));
        std::fs::write(&file, vec![b'a'; MAX_TOKEN_LEN + 10]).unwrap();
        let e = parse("nats://h")
            .unwrap()
            .with_token_file(&file)
            .unwrap_err();
        assert!(e.to_string().contains("at most 4096"), "{e}");
        let e = parse("nats://h")
            .unwrap()
            .with_token_file(&dir.path().join("missing"))
            .unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
    }

    #[test]
    fn subjects_match_patterns() {
        assert!(subject_matches("framecast.>", "framecast.a"));
        assert!(subject_matches("framecast.>", "framecast.a.b"));
        assert!(!subject_matches("framecast.>", "framecast"));
        assert!(subject_matches("*.cam", "door.cam"));
        assert!(!subject_matches("*.cam", "door.cam.x"));
        assert!(subject_matches("a.b", "a.b"));
        assert!(!subject_matches("a.b", "a.c"));
    }

    #[test]
    fn publishing_into_a_subscription_is_seen() {
        assert!(publishes_into("framecast", "framecast.>"));
        assert!(publishes_into("framecast", ">"));
        assert!(publishes_into("framecast", "*.*"));
        assert!(publishes_into("framecast", "framecast.door"));
        assert!(publishes_into("site.a", "site.*.*"));
        assert!(!publishes_into("framecast", "framecast"));
        assert!(!publishes_into("framecast", "framecast.*.x"));
        assert!(!publishes_into("relay", "framecast.>"));
        assert!(!publishes_into("site.a", "site.b.>"));
        assert!(!publishes_into("site.a", "site.*"));
    }

    #[test]
    fn loopback_lists_are_recognised() {
        assert!(
            parse("nats://127.0.0.2:1,[::1],LOCALHOST")
                .unwrap()
                .is_loopback()
        );
        assert!(
            !parse("nats://127.0.0.1,nats.example")
                .unwrap()
                .is_loopback()
        );
        assert!(!parse("nats://0.0.0.0").unwrap().is_loopback());
    }

    #[test]
    fn names_become_one_valid_token_one_to_one() {
        let names = [
            "",
            " ",
            "a.b",
            "a_b",
            "a*b",
            "a>b",
            "a~2eb",
            "a~b",
            "~",
            "*",
            ">",
            "x\u{7f}",
            "\u{1b}[2J",
            "ünïcode",
            "cam\u{202e}1",
            &"n".repeat(64),
            &"\u{10ffff}".repeat(16),
        ];
        let mut tokens = std::collections::HashSet::new();
        for name in names {
            let token = subject_token(name);
            let subject = format!("framecast.{token}");
            assert!(check_subject(&subject, false).is_ok(), "{name:?}");
            assert_eq!(subject.matches('.').count(), 1, "{name:?}");
            assert!(tokens.insert(token.clone()), "{name:?} shares {token}");
            assert_eq!(token_name(&token).as_deref(), Some(name), "{token}");
        }
        // Every byte value, alone and in a name.
        for b in 0..=255u8 {
            let name = String::from_utf8_lossy(&[b'x', b, b'y']).into_owned();
            assert_eq!(token_name(&subject_token(&name)), Some(name));
        }
    }
}
