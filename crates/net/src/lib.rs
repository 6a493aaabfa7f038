//! Network addresses as users write them, parsed the same way by every
//! framecast program and library, and the one loopback check.
//!
//! - [`HostPort`]: a host and a port from text: `PORT`, `:PORT`,
//!   `HOST:PORT`, `HOST`, `[IPV6]:PORT` and `[IPV6]`, the host an IP address
//!   or a name. A bare number is always a port, never an IPv4 address in
//!   disguise: `8081` is port 8081 on loopback, not `0.0.31.145`. Parsed
//!   for a listener ([`HostPort::parse_listen`], port 0 allowed) or a
//!   connection ([`HostPort::parse_connect`]); printed as written.
//! - [`is_loopback`]: whether an IP address can only be reached from this
//!   machine (IPv4-mapped loopback included); [`HostPort::is_loopback`]
//!   also knows `localhost`.
//! - [`Backoff`]: the one retry ladder (delays doubling up to a cap, with
//!   or without jitter) that reconnections, failovers and accept errors
//!   wait along.
//! - `Acceptor` (feature `tokio`): the one accept step of every server,
//!   riding out accept errors along that ladder.
//! - [`printable`]: untrusted text (a stream name, what a server sends)
//!   with its control, bidirectional and zero-width characters escaped, the
//!   one way every program shows such text.
//!
//! ```
//! use framecast_net::{Host, HostPort};
//!
//! // Only a port: the default host, loopback (secure unless told otherwise).
//! let http = HostPort::parse_listen("8081", 8080)?;
//! assert_eq!(http.to_string(), "127.0.0.1:8081");
//! assert_eq!(HostPort::parse_listen(":8081", 8080)?, http);
//!
//! // Only a host: the default port.
//! let viewer = HostPort::parse_connect("camera-1.lan", 5252)?;
//! assert_eq!(viewer.host(), &Host::Name("camera-1.lan".into()));
//! assert_eq!(viewer.port(), 5252);
//!
//! // IPv6 in brackets, printed the same way back.
//! let v6 = HostPort::parse_connect("[::1]:5253", 5252)?;
//! assert_eq!(v6.to_string(), "[::1]:5253");
//! assert!(v6.is_loopback());
//!
//! // Mistakes say what is wrong.
//! let err = HostPort::parse_connect("::1:5252", 5252).unwrap_err();
//! assert!(err.to_string().contains("in brackets"));
//! # Ok::<(), framecast_net::AddrError>(())
//! ```

// docs.rs labels each feature-gated item with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

#[cfg(feature = "tokio")]
mod accept;
mod backoff;
mod printable;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use accept::{ACCEPT_RETRY_INITIAL, ACCEPT_RETRY_MAX, Acceptor};
pub use backoff::Backoff;
pub use printable::{is_invisible, printable};

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// The host of an address that names only a port (`8081`, `:8081`): this
/// machine's IPv4 loopback, so that nothing is exposed unless asked for.
pub const DEFAULT_HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The longest host name accepted (the DNS limit).
pub const MAX_NAME_LEN: usize = 253;

/// The longest label (the part between dots) of a host name.
const MAX_LABEL_LEN: usize = 63;

/// A host: an IP address or a name, as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Host {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A host name, looked up when the address is resolved.
    Name(String),
}

impl Host {
    /// Whether this host can only be reached from this machine: a loopback
    /// address (see [`is_loopback`]) or the name `localhost`.
    pub fn is_loopback(&self) -> bool {
        match self {
            Self::Ip(ip) => is_loopback(*ip),
            Self::Name(name) => name.eq_ignore_ascii_case("localhost"),
        }
    }
}

impl fmt::Display for Host {
    /// The host as written: an IPv6 address without brackets (they belong
    /// to [`HostPort`]'s form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(ip) => ip.fmt(f),
            Self::Name(name) => f.write_str(name),
        }
    }
}

/// A host and a port, checked but not resolved: a connection resolves a
/// name at each attempt, so a host that moved is found again.
///
/// Printed as `HOST:PORT`, an IPv6 host in brackets (`[::1]:5252`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    host: Host,
    port: u16,
}

impl HostPort {
    /// An address from its parts.
    pub fn new(host: Host, port: u16) -> Self {
        Self { host, port }
    }

    /// Parses an address to listen on: `PORT` or `:PORT` (on
    /// [`DEFAULT_HOST`]), `HOST:PORT`, `[IPV6]:PORT`, or a bare `HOST` or
    /// `[IPV6]` (on `default_port`). Port 0 is allowed: the system picks a
    /// free port.
    ///
    /// # Errors
    ///
    /// [`AddrError`] saying what is wrong with `text`.
    pub fn parse_listen(text: &str, default_port: u16) -> Result<Self, AddrError> {
        parse(text, default_port, 0)
    }

    /// Parses an address to connect to, in the forms
    /// [`parse_listen`](Self::parse_listen) takes; port 0 is refused.
    ///
    /// # Errors
    ///
    /// [`AddrError`] saying what is wrong with `text`.
    pub fn parse_connect(text: &str, default_port: u16) -> Result<Self, AddrError> {
        parse(text, default_port, 1)
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The same host with another port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The socket address, when the host is an IP address (no lookup).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self.host {
            Host::Ip(ip) => Some(SocketAddr::new(ip, self.port)),
            Host::Name(_) => None,
        }
    }

    /// Whether only this machine can reach this address: see
    /// [`Host::is_loopback`].
    pub fn is_loopback(&self) -> bool {
        self.host.is_loopback()
    }

    /// Every socket address the host stands for, in the resolver's order;
    /// an IP address is returned as it is, a name is looked up (this
    /// blocks).
    ///
    /// # Errors
    ///
    /// [`AddrError::Resolve`] when the lookup fails,
    /// [`AddrError::NoAddress`] when it finds nothing.
    pub fn resolve(&self) -> Result<Vec<SocketAddr>, AddrError> {
        let name = match &self.host {
            Host::Ip(ip) => return Ok(vec![SocketAddr::new(*ip, self.port)]),
            Host::Name(name) => name,
        };
        let found: Vec<SocketAddr> = (name.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|source| AddrError::Resolve {
                host: name.clone(),
                source,
            })?
            .collect();
        if found.is_empty() {
            return Err(AddrError::NoAddress { host: name.clone() });
        }
        Ok(found)
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]:{}", self.port),
            host => write!(f, "{host}:{}", self.port),
        }
    }
}

impl From<SocketAddr> for HostPort {
    fn from(addr: SocketAddr) -> Self {
        Self::new(Host::Ip(addr.ip()), addr.port())
    }
}

/// Whether `ip` can only be reached from this machine: 127.0.0.0/8, `::1`,
/// or an IPv4-mapped loopback address (`::ffff:127.0.0.1`).
///
/// ```
/// use framecast_net::is_loopback;
///
/// assert!(is_loopback("127.0.0.2".parse()?));
/// assert!(is_loopback("::ffff:127.0.0.1".parse()?));
/// assert!(!is_loopback("0.0.0.0".parse()?));
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Why a text is not a usable address, or a name could not be resolved.
/// Each message quotes the text as the user wrote it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddrError {
    /// Nothing was given.
    #[error("an address cannot be empty: give HOST:PORT or PORT")]
    Empty,
    /// A URL was given where an address belongs.
    #[error("{text:?} is a URL; give HOST:PORT or PORT")]
    Url {
        /// The text given.
        text: String,
    },
    /// An IPv6 address without brackets, whose port cannot be told apart.
    #[error("{text:?}: put an IPv6 address in brackets, as in [::1]:PORT")]
    UnbracketedIpv6 {
        /// The text given.
        text: String,
    },
    /// `[` without its `]`, or something other than `:PORT` after it.
    #[error("{text:?}: expected [IPV6]:PORT with its closing ']'")]
    Brackets {
        /// The text given.
        text: String,
    },
    /// What stands in brackets is not an IPv6 address.
    #[error("{text:?}: {host:?} is not an IPv6 address")]
    NotIpv6 {
        /// The text given.
        text: String,
        /// What stood in the brackets.
        host: String,
    },
    /// The host is neither an IP address nor a host name.
    #[error("{text:?}: {host:?} is {why}")]
    BadHost {
        /// The text given.
        text: String,
        /// The host part.
        host: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The port is not a number.
    #[error("{text:?}: the port {port:?} is not a number")]
    PortNotNumber {
        /// The text given.
        text: String,
        /// The port part.
        port: String,
    },
    /// The port is outside the range allowed here.
    #[error("{text:?}: the port {port} is out of range ({lowest}-65535)")]
    PortOutOfRange {
        /// The text given.
        text: String,
        /// The port given.
        port: u64,
        /// The lowest port allowed (0 for a listener, 1 for a connection).
        lowest: u16,
    },
    /// Looking the name up failed.
    #[error("cannot resolve {host}")]
    Resolve {
        /// The name.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// The name resolves to no address.
    #[error("{host} resolves to no address")]
    NoAddress {
        /// The name.
        host: String,
    },
}

fn parse(text: &str, default_port: u16, lowest: u16) -> Result<HostPort, AddrError> {
    let s = text.trim();
    let owned = || s.to_owned();
    if s.is_empty() {
        return Err(AddrError::Empty);
    }
    if s.contains("://") {
        return Err(AddrError::Url { text: owned() });
    }
    let port = |p: &str| parse_port(s, p, lowest);
    if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| AddrError::Brackets { text: owned() })?;
        let ip = inside.parse::<Ipv6Addr>().map_err(|_| AddrError::NotIpv6 {
            text: owned(),
            host: inside.to_owned(),
        })?;
        let port = match after {
            "" => default_port,
            _ => port(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| AddrError::Brackets { text: owned() })?,
            )?,
        };
        return Ok(HostPort::new(Host::Ip(IpAddr::V6(ip)), port));
    }
    if s.matches(':').count() > 1 {
        return Err(AddrError::UnbracketedIpv6 { text: owned() });
    }
    // A bare number is a port: no one names a host with digits alone, and
    // reading it as an IPv4 address (8081 as 0.0.31.145) surprises everyone.
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(HostPort::new(Host::Ip(DEFAULT_HOST), port(s)?));
    }
    let (host, port) = match s.split_once(':') {
        Some(("", p)) => (Host::Ip(DEFAULT_HOST), port(p)?),
        Some((h, p)) => (parse_host(s, h)?, port(p)?),
        None => (parse_host(s, s)?, default_port),
    };
    Ok(HostPort::new(host, port))
}

fn parse_port(text: &str, port: &str, lowest: u16) -> Result<u16, AddrError> {
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddrError::PortNotNumber {
            text: text.to_owned(),
            port: port.to_owned(),
        });
    }
    // Digits only: a parse failure is a number too large for u64.
    let n = port.parse::<u64>().unwrap_or(u64::MAX);
    match u16::try_from(n) {
        Ok(p) if p >= lowest => Ok(p),
        _ => Err(AddrError::PortOutOfRange {
            text: text.to_owned(),
            port: n,
            lowest,
        }),
    }
}

fn parse_host(text: &str, host: &str) -> Result<Host, AddrError> {
    let bad = |why| AddrError::BadHost {
        text: text.to_owned(),
        host: host.to_owned(),
        why,
    };
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(v4)));
    }
    // `10.1` or `1.2.3` would be looked up as shorthand IPv4 addresses
    // (10.0.0.1, 1.2.0.3): an address the user did not write.
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad("not an IPv4 address (write all four numbers)"));
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.len() > MAX_NAME_LEN {
        return Err(bad("too long for a host name"));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= MAX_LABEL_LEN
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !name.split('.').all(label_ok) {
        return Err(bad("not a host name or an IP address"));
    }
    Ok(Host::Name(host.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listen(s: &str) -> String {
        HostPort::parse_listen(s, 5252).unwrap().to_string()
    }

    fn connect(s: &str) -> String {
        HostPort::parse_connect(s, 5252).unwrap().to_string()
    }

    fn err(s: &str) -> String {
        HostPort::parse_connect(s, 5252).unwrap_err().to_string()
    }

    #[test]
    fn every_form_reads_the_same_for_listening_and_connecting() {
        for (text, want) in [
            ("8081", "127.0.0.1:8081"),
            (":8081", "127.0.0.1:8081"),
            (" 5253 ", "127.0.0.1:5253"),
            ("0.0.0.0:5252", "0.0.0.0:5252"),
            ("192.168.1.20", "192.168.1.20:5252"),
            ("localhost", "localhost:5252"),
            ("localhost:9", "localhost:9"),
            ("camera-1.example.org:80", "camera-1.example.org:80"),
            ("[::1]:6000", "[::1]:6000"),
            ("[::1]", "[::1]:5252"),
            ("[::]:8080", "[::]:8080"),
            ("host.", "host.:5252"),
        ] {
            assert_eq!(listen(text), want, "{text}");
            assert_eq!(connect(text), want, "{text}");
        }
        assert_eq!(listen("0"), "127.0.0.1:0");
        assert_eq!(listen(":0"), "127.0.0.1:0");
        assert_eq!(listen("[::1]:0"), "[::1]:0");
    }

    #[test]
    fn a_bare_number_is_never_an_address_in_disguise() {
        // The bug this crate fixes: 8081 looked up as a host is 0.0.31.145.
        let a = HostPort::parse_listen("8081", 8080).unwrap();
        assert_eq!(a.socket_addr(), Some("127.0.0.1:8081".parse().unwrap()));
        assert!(
            err("10.1").contains("not an IPv4 address"),
            "{}",
            err("10.1")
        );
        assert!(err("1.2.3:80").contains("not an IPv4 address"));
    }

    #[test]
    fn mistakes_say_what_is_wrong_quoting_the_text() {
        for (text, says) in [
            ("", "cannot be empty"),
            ("127.0.0.1:99999", "out of range (1-65535)"),
            ("127.0.0.1:0", "out of range (1-65535)"),
            ("0", "out of range (1-65535)"),
            ("99999999999999999999999", "out of range"),
            ("127.0.0.1:http", "\"http\" is not a number"),
            ("host:", "\"\" is not a number"),
            ("::1:5252", "in brackets"),
            ("::1", "in brackets"),
            ("[::1:5252", "closing ']'"),
            ("[::1]5252", "closing ']'"),
            ("[]:1", "not an IPv6 address"),
            ("[10.0.0.1]:1", "not an IPv6 address"),
            ("tcp://host:1", "URL"),
            ("bad host:1", "not a host name"),
            ("a..b", "not a host name"),
            ("é.example", "not a host name"),
        ] {
            let e = err(text);
            assert!(e.contains(says), "{text:?}: {e}");
            assert!(
                e.contains(&format!("{:?}", text.trim())) || text.is_empty(),
                "{e}"
            );
        }
        let e = HostPort::parse_listen("127.0.0.1:70000", 1).unwrap_err();
        assert!(e.to_string().contains("out of range (0-65535)"), "{e}");
        let long = format!("{}.example", "a".repeat(64));
        assert!(err(&long).contains("not a host name"));
        let too_long = ["abc"; 70].join(".");
        assert!(err(&too_long).contains("too long"));
    }

    #[test]
    fn loopback_is_told_apart() {
        for text in [
            "127.0.0.1",
            "127.9.9.9:1",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "localhost",
            "LocalHost:1",
            "80",
        ] {
            assert!(
                HostPort::parse_connect(text, 1).unwrap().is_loopback(),
                "{text}"
            );
        }
        for text in [
            "0.0.0.0",
            "[::]",
            "10.0.0.1",
            "[::ffff:10.0.0.1]",
            "example.org",
            "localhost.example",
        ] {
            assert!(
                !HostPort::parse_connect(text, 1).unwrap().is_loopback(),
                "{text}"
            );
        }
    }

    #[test]
    fn resolving_keeps_ip_addresses_and_looks_names_up() {
        let ip = HostPort::parse_listen("[::1]:9", 1).unwrap();
        assert_eq!(ip.resolve().unwrap(), vec!["[::1]:9".parse().unwrap()]);
        let name = HostPort::parse_listen("localhost:0", 1).unwrap();
        let found = name.resolve().unwrap();
        assert!(
            found.iter().all(|a| a.ip().is_loopback() && a.port() == 0),
            "{found:?}"
        );
        assert_eq!(HostPort::from(found[0]).port(), 0);
    }
}
