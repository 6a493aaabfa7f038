//! [`Exposure`]: "protected mode" for servers, after Redis's.
//!
//! A server on loopback needs no set-up. Listening anywhere else without
//! authentication is refused, unless the user explicitly opts out, in which
//! case the server starts and warns once.

use std::{fmt, net::SocketAddr};

use framecast_net::is_loopback;

/// How exposed a server is about to be; see [`Exposure::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exposure {
    /// Every address is a loopback address: only this machine can connect.
    Loopback,
    /// Reachable from other hosts, and every client must authenticate.
    Authenticated,
    /// Reachable from other hosts with no authentication, as the user
    /// explicitly asked: start, and warn once.
    Anonymous,
}

impl Exposure {
    /// Decides whether a server listening on `addresses` may start.
    ///
    /// - Only loopback addresses (127.0.0.0/8, `::1`, and `::ffff:127.x.y.z`):
    ///   [`Loopback`](Self::Loopback), authenticated or not.
    /// - Otherwise (`0.0.0.0` and `::` included), with `authenticated`:
    ///   [`Authenticated`](Self::Authenticated).
    /// - Otherwise, with `allow_anonymous`: [`Anonymous`](Self::Anonymous).
    /// - Otherwise: refused with [`ExposureError`].
    ///
    /// Names such as `localhost` must be resolved first; pass every address
    /// they resolve to.
    pub fn check(
        addresses: &[SocketAddr],
        authenticated: bool,
        allow_anonymous: bool,
    ) -> Result<Self, ExposureError> {
        let exposed = addresses.iter().find(|a| !is_loopback(a.ip()));
        match exposed {
            None => Ok(Self::Loopback),
            Some(_) if authenticated => Ok(Self::Authenticated),
            Some(_) if allow_anonymous => Ok(Self::Anonymous),
            Some(&address) => Err(ExposureError { address }),
        }
    }
}

/// A server would listen beyond loopback with no authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExposureError {
    /// The first address that is not loopback.
    pub address: SocketAddr,
}

impl fmt::Display for ExposureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refusing to listen on {} without authentication: any host that can reach it could use it",
            self.address
        )
    }
}

impl std::error::Error for ExposureError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn loopback_needs_nothing() {
        for list in [
            &["127.0.0.1:1"][..],
            &["127.1.2.3:1"],
            &["[::1]:1"],
            &["[::ffff:127.0.0.1]:1"],
            &["127.0.0.1:1", "[::1]:1"],
        ] {
            assert_eq!(
                Exposure::check(&addrs(list), false, false),
                Ok(Exposure::Loopback),
                "{list:?}"
            );
        }
    }

    #[test]
    fn anything_else_needs_auth_or_an_opt_out() {
        for list in [
            &["0.0.0.0:50051"][..],
            &["[::]:50051"],
            &["192.0.2.7:50051"],
            &["[::ffff:192.0.2.7]:50051"],
            &["127.0.0.1:1", "[2001:db8::1]:1"],
        ] {
            let a = addrs(list);
            let err = Exposure::check(&a, false, false).unwrap_err();
            assert!(!is_loopback(err.address.ip()));
            assert!(err.to_string().contains("without authentication"), "{err}");
            assert_eq!(
                Exposure::check(&a, true, false),
                Ok(Exposure::Authenticated)
            );
            assert_eq!(Exposure::check(&a, false, true), Ok(Exposure::Anonymous));
            // Authentication wins over the opt-out.
            assert_eq!(Exposure::check(&a, true, true), Ok(Exposure::Authenticated));
        }
    }
}
