//! [`Token`]: a shared secret that authenticates clients.

use std::{fmt, path::Path};

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::TokenError;

/// The shortest token accepted, in bytes: 16 (a random token of 16
/// printable characters carries well over 64 bits).
pub const MIN_TOKEN_BYTES: usize = 16;

/// The fewest distinct characters a token may have on a server reachable
/// from other hosts ([`Token::check_strength`]): 6. `aaaaaaaaaaaaaaaa` or
/// `abababab…` is guessed at once; a random token has many more (16 random
/// hex digits have fewer than 6 distinct about once in 50,000; 32 or more,
/// practically never).
pub const MIN_TOKEN_DISTINCT_CHARS: usize = 6;

/// The environment variable framecast reads a token from when no token file
/// is given.
pub const TOKEN_ENV: &str = "FRAMECAST_TOKEN";

/// A shared secret: at least [`MIN_TOKEN_BYTES`] printable ASCII
/// characters.
///
/// `Debug` and `Display` print `<redacted>`, never the secret; comparisons
/// take the same time wherever the first difference is; the memory holding
/// it is wiped when it is dropped. Clients send it as
/// `authorization: Bearer <token>` ([`bearer`](Self::bearer)); servers
/// check that header with [`check_bearer`](Self::check_bearer).
///
/// ```
/// use framecast_tls::{AuthFailure, Token};
///
/// let token = Token::new("s3cret-s3cret-s3cret\n")?; // surrounding white space is trimmed
/// assert_eq!(token.to_string(), "<redacted>");
/// assert!(token.check_bearer(Some(b"Bearer s3cret-s3cret-s3cret")).is_ok());
/// assert_eq!(token.check_bearer(None), Err(AuthFailure::Missing));
/// assert_eq!(token.check_bearer(Some(b"Bearer guess")), Err(AuthFailure::Wrong));
/// # Ok::<(), framecast_tls::TokenError>(())
/// ```
#[derive(Clone)]
pub struct Token {
    secret: Zeroizing<String>,
}

impl Token {
    /// A token from `secret`, without the white space around it (a file's
    /// final newline). Fails if what is left is empty, shorter than
    /// [`MIN_TOKEN_BYTES`], or holds anything but printable ASCII.
    pub fn new(secret: impl Into<String>) -> Result<Self, TokenError> {
        let secret = Zeroizing::new(secret.into());
        let trimmed = secret.trim();
        if trimmed.is_empty() {
            return Err(TokenError::Empty);
        }
        if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::BadCharacter);
        }
        if trimmed.len() < MIN_TOKEN_BYTES {
            return Err(TokenError::TooShort {
                len: trimmed.len(),
                min: MIN_TOKEN_BYTES,
            });
        }
        Ok(Self {
            secret: Zeroizing::new(trimmed.to_owned()),
        })
    }

    /// Whether the token is strong enough for a server reachable from
    /// other hosts: it has at least [`MIN_TOKEN_DISTINCT_CHARS`] distinct
    /// characters. Servers on loopback accept any token.
    ///
    /// ```
    /// use framecast_tls::{Token, TokenError};
    ///
    /// let weak = Token::new("aaaaaaaaaaaaaaaa")?;
    /// assert!(matches!(weak.check_strength(), Err(TokenError::Weak { distinct: 1, .. })));
    /// Token::new("3f9c2a71d04be86d5a1c")?.check_strength()?;
    /// # Ok::<(), framecast_tls::TokenError>(())
    /// ```
    pub fn check_strength(&self) -> Result<(), TokenError> {
        let mut seen = [false; 128];
        let mut distinct = 0;
        for b in self.secret.bytes() {
            let s = &mut seen[usize::from(b & 0x7f)];
            if !*s {
                *s = true;
                distinct += 1;
            }
        }
        if distinct < MIN_TOKEN_DISTINCT_CHARS {
            return Err(TokenError::Weak {
                distinct,
                min: MIN_TOKEN_DISTINCT_CHARS,
            });
        }
        Ok(())
    }

    /// Reads a token from a file (its whole content, trimmed).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TokenError> {
        let path = path.as_ref();
        let secret = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::new(secret)
    }

    /// Reads a token from the environment variable `name`: `Ok(None)` when
    /// it is unset.
    pub fn from_env(name: &str) -> Result<Option<Self>, TokenError> {
        match std::env::var(name) {
            Ok(secret) => Self::new(secret).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(TokenError::NotUnicode {
                name: name.to_owned(),
            }),
        }
    }

    /// Whether `candidate` is this token, compared in constant time (the
    /// length is not secret; the content is).
    pub fn matches(&self, candidate: &[u8]) -> bool {
        self.secret.as_bytes().ct_eq(candidate).into()
    }

    /// Checks the value of an `authorization` header: `Bearer <token>`.
    pub fn check_bearer(&self, header: Option<&[u8]>) -> Result<(), AuthFailure> {
        let Some(header) = header else {
            return Err(AuthFailure::Missing);
        };
        let Some(candidate) = strip_bearer(header) else {
            return Err(AuthFailure::Malformed);
        };
        if self.matches(candidate) {
            Ok(())
        } else {
            Err(AuthFailure::Wrong)
        }
    }

    /// The value of the `authorization` header that carries this token:
    /// `Bearer <token>`. Keep it out of logs.
    pub fn bearer(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("Bearer {}", self.secret.as_str()))
    }

    /// The secret itself, for protocols that carry it some other way. Keep
    /// it out of logs.
    pub fn expose_secret(&self) -> &str {
        &self.secret
    }
}

/// The token of `Bearer <token>`; the scheme name is case-insensitive
/// (RFC 9110).
fn strip_bearer(header: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer ";
    if header.len() < SCHEME.len() || !header[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    Some(header[SCHEME.len()..].trim_ascii())
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a request was not authenticated; the `Display` text is safe to send
/// back to the client (it never holds the token).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// No credentials came with the request.
    Missing,
    /// Credentials came, but not as `Bearer <token>`.
    Malformed,
    /// The token is not the right one.
    Wrong,
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "no access token: this server requires one",
            Self::Malformed => "the authorization header is not `Bearer <token>`",
            Self::Wrong => "the access token is not valid",
        })
    }
}

impl std::error::Error for AuthFailure {}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "0123456789abcdef";

    #[test]
    fn short_empty_and_odd_tokens_are_refused() {
        assert!(matches!(Token::new(""), Err(TokenError::Empty)));
        assert!(matches!(Token::new(" \n\t"), Err(TokenError::Empty)));
        assert!(matches!(
            Token::new("short"),
            Err(TokenError::TooShort { len: 5, min: 16 })
        ));
        assert!(matches!(
            Token::new("0123456789\nabcdef"),
            Err(TokenError::BadCharacter)
        ));
        assert!(matches!(
            Token::new("0123456789abcdéf"),
            Err(TokenError::BadCharacter)
        ));
        Token::new(GOOD).unwrap();
    }

    #[test]
    fn tokens_with_too_few_distinct_characters_are_weak() {
        for (weak, distinct) in [
            ("aaaaaaaaaaaaaaaa", 1),
            ("abababababababab", 2),
            ("12345123451234512345", 5),
        ] {
            let err = Token::new(weak).unwrap().check_strength().unwrap_err();
            assert!(
                matches!(err, TokenError::Weak { distinct: d, min: 6 } if d == distinct),
                "{weak}: {err:?}"
            );
            let text = err.to_string();
            assert!(text.contains("openssl rand -hex 32"), "{text}");
            assert!(!text.contains(weak), "{text}");
        }
        for strong in [GOOD, "abcdefabcdefabcd", "correct-horse-battery-staple"] {
            Token::new(strong).unwrap().check_strength().unwrap();
        }
    }

    #[test]
    fn the_secret_is_never_printed() {
        let token = Token::new(GOOD).unwrap();
        for shown in [
            format!("{token}"),
            format!("{token:?}"),
            format!("{token:#?}"),
        ] {
            assert!(!shown.contains(GOOD), "{shown}");
        }
        let err = Token::new("tooshort").unwrap_err().to_string();
        assert!(!err.contains("tooshort"), "{err}");
        for failure in [
            AuthFailure::Missing,
            AuthFailure::Malformed,
            AuthFailure::Wrong,
        ] {
            assert!(!failure.to_string().contains(GOOD));
        }
    }

    #[test]
    fn files_are_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, format!("{GOOD}\n")).unwrap();
        assert!(Token::from_file(&path).unwrap().matches(GOOD.as_bytes()));
        let err = Token::from_file(dir.path().join("none")).unwrap_err();
        assert!(matches!(err, TokenError::Read { .. }));
        assert!(err.to_string().contains("none"), "{err}");
    }

    #[test]
    fn an_unset_variable_is_no_token() {
        assert!(
            Token::from_env("FRAMECAST_TEST_SURELY_UNSET_VARIABLE")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn bearer_headers() {
        let token = Token::new(GOOD).unwrap();
        let header = token.bearer();
        assert_eq!(token.check_bearer(Some(header.as_bytes())), Ok(()));
        assert_eq!(token.check_bearer(Some(b"bearer 0123456789abcdef")), Ok(()));
        assert_eq!(token.check_bearer(None), Err(AuthFailure::Missing));
        assert_eq!(
            token.check_bearer(Some(b"Basic dXNlcjpwYXNz")),
            Err(AuthFailure::Malformed)
        );
        assert_eq!(
            token.check_bearer(Some(b"Bearer")),
            Err(AuthFailure::Malformed)
        );
        assert_eq!(
            token.check_bearer(Some(b"Bearer 0123456789abcdeF")),
            Err(AuthFailure::Wrong)
        );
        assert_eq!(
            token.check_bearer(Some(b"Bearer 0123456789abcdef0")),
            Err(AuthFailure::Wrong)
        );
        assert!(!token.matches(b""));
    }
}
