//! Network addresses on the command line: `HOST:PORT`, `HOST` (the default
//! port), `[IPv6]:PORT`, host names included, ports checked.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

/// A host and a port, checked but not resolved: a sender resolves its
/// receiver's name at every attempt, so a moved host is found again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPort {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ipv6() {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl HostPort {
    /// Parses `HOST:PORT`, `[IPV6]:PORT`, or a bare `HOST`/`[IPV6]` (which
    /// then takes `default_port`). `allow_zero` admits port 0 (a listener's
    /// "pick a free port").
    pub(crate) fn parse(s: &str, default_port: u16, allow_zero: bool) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("an address cannot be empty: give HOST:PORT".into());
        }
        if s.contains("://") {
            return Err(format!(
                "{s:?} is a URL; give HOST:PORT (for example 127.0.0.1:{default_port})"
            ));
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("{s:?}: an IPv6 address needs its closing ']'"))?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(format!("{s:?}: expected [IPV6]:PORT")),
                },
            }
        } else if s.matches(':').count() > 1 {
            return Err(format!(
                "{s:?}: put an IPv6 address in brackets, as in [::1]:{default_port}"
            ));
        } else {
            match s.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (s, None),
            }
        };
        if host.is_empty() {
            return Err(format!("{s:?}: the host is missing (HOST:PORT)"));
        }
        let port = match port {
            None => default_port,
            Some(p) => parse_port(p, allow_zero).map_err(|e| format!("{s:?}: {e}"))?,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }

    /// Whether the host is an IPv6 address (bracketed when printed).
    pub(crate) fn is_ipv6(&self) -> bool {
        self.host.parse::<std::net::Ipv6Addr>().is_ok()
    }

    /// Resolves to the first address the name gives.
    pub(crate) fn resolve(&self) -> Result<SocketAddr, String> {
        let mut addrs = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?;
        addrs
            .next()
            .ok_or_else(|| format!("{} resolves to no address", self.host))
    }
}

fn parse_port(p: &str, allow_zero: bool) -> Result<u16, String> {
    let n: u64 = p
        .parse()
        .map_err(|_| format!("the port {p:?} is not a number"))?;
    let lowest = u64::from(!allow_zero);
    if !(lowest..=65_535).contains(&n) {
        return Err(format!("the port {n} is out of range ({lowest}-65535)"));
    }
    Ok(n as u16)
}

/// clap's parser for a sender's `--to`.
pub(crate) fn parse_to(s: &str) -> Result<HostPort, String> {
    HostPort::parse(s, framecast_stream::DEFAULT_PORT, false)
}

/// clap's parser for a `--listen` address: resolved now (a host name such
/// as `localhost` is allowed); port 0 picks a free port.
pub(crate) fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    HostPort::parse(s, framecast_stream::DEFAULT_PORT, true)?.resolve()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_ports_and_ipv6() {
        let ok = |s: &str, host: &str, port: u16| {
            assert_eq!(
                HostPort::parse(s, 5252, false).unwrap(),
                HostPort {
                    host: host.into(),
                    port
                },
                "{s}"
            );
        };
        ok("127.0.0.1:5399", "127.0.0.1", 5399);
        ok("localhost", "localhost", 5252);
        ok("camera.example:80", "camera.example", 80);
        ok("[::1]:6000", "::1", 6000);
        ok("[::1]", "::1", 5252);
        assert_eq!(
            HostPort::parse("[::1]:7", 1, false).unwrap().to_string(),
            "[::1]:7"
        );
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        let err = |s: &str| HostPort::parse(s, 5252, false).unwrap_err();
        assert!(err("127.0.0.1:99999").contains("out of range"));
        assert!(err("127.0.0.1:0").contains("out of range"));
        assert!(err("127.0.0.1:http").contains("not a number"));
        assert!(err(":5252").contains("host is missing"));
        assert!(err("[::1:5252").contains("closing ']'"));
        assert!(err("::1:5252").contains("in brackets"));
        assert!(err("tcp://host:1").contains("URL"));
        assert!(HostPort::parse("127.0.0.1:0", 5252, true).is_ok());
    }

    #[test]
    fn listen_addresses_resolve_names() {
        let a = parse_listen("localhost:0").unwrap();
        assert!(a.ip().is_loopback(), "{a}");
        assert_eq!(parse_listen("[::1]:9").unwrap().to_string(), "[::1]:9");
    }
}
