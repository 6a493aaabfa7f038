//! Who may watch: with an access token configured, every request but
//! `/healthz`, the login page and the static assets must carry it.
//!
//! ```text
//! request ──▶ open path (/healthz, /login, /assets/*)? ──yes──▶ served
//!    │ no
//!    ▼
//! Authorization: Bearer <token>   (scripts, Prometheus)   ─┐
//! cookie framecast_session=<key>  (browsers, after login) ─┼─▶ served
//! ?token=<token>                  (a link to share)       ─┘   (a page asked for with
//!    │ none, or wrong                                          ?token= is redirected to
//!    ▼                                                         itself without it, with
//! 401: the login form for a browser, a line of text otherwise  the cookie set)
//! ```
//!
//! The cookie never holds the token: it holds a random session key made
//! when the viewer starts, so a cookie stolen from a browser stops working
//! when the receiver restarts and never reveals the token. Tokens and
//! session keys are compared in constant time, and neither is ever logged.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State as Extract};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use framecast_tls::{AuthFailure, Token};
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;

use super::conn::{LOG_AUTH, Peer};
use super::slots::Place;
use super::{State, lock, pages};
use crate::limits::HTTP_MAX_LOGIN_FORM;

/// The cookie a browser keeps after logging in.
pub const SESSION_COOKIE: &str = "framecast_session";

/// The login form's path (`GET` shows it, `POST` submits it).
pub const LOGIN_PATH: &str = "/login";

/// The health probe's path: open to anyone, and never evicted while
/// answered.
const HEALTH_PATH: &str = "/healthz";

/// The query parameter that carries the token in a shared link.
pub const TOKEN_PARAMETER: &str = "token";

/// The access check of one viewer.
pub(super) struct Auth {
    token: Token,
    /// 32 random bytes as 64 hex digits: the value of the session cookie.
    session: String,
    /// `Set-Cookie` for a browser that proved it has the token.
    cookie: HeaderValue,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth(<redacted>)")
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Denied {
    /// From the token check: missing, malformed or wrong.
    Token(AuthFailure),
    /// A session cookie from before the receiver restarted.
    StaleSession,
}

impl Denied {
    fn reason(self) -> String {
        match self {
            Self::Token(failure) => failure.to_string(),
            Self::StaleSession => {
                "the session has ended (the receiver restarted): log in again".to_owned()
            }
        }
    }
}

/// How a request proved it may watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Granted {
    Header,
    Cookie,
    Query,
}

impl Auth {
    /// `secure`: the viewer is served over HTTPS (the cookie is then never
    /// sent over plain HTTP).
    pub(super) fn new(token: Token, secure: bool) -> Self {
        let mut key = [0u8; 32];
        // A CSPRNG seeded from the operating system.
        rand::rng().fill_bytes(&mut key);
        let mut session = String::with_capacity(64);
        for b in key {
            let _ = write!(session, "{b:02x}");
        }
        let cookie = format!(
            "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax{}",
            if secure { "; Secure" } else { "" }
        );
        let cookie = HeaderValue::from_str(&cookie).expect("hex digits and ASCII attributes");
        Self {
            token,
            session,
            cookie,
        }
    }

    fn session_matches(&self, candidate: &str) -> bool {
        self.session.as_bytes().ct_eq(candidate.as_bytes()).into()
    }

    /// Checks a request's credentials: the `Authorization` header decides
    /// when there is one; then the session cookie; then `?token=`.
    fn check(&self, headers: &HeaderMap, query: Option<&str>) -> Result<Granted, Denied> {
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            return self
                .token
                .check_bearer(Some(value.as_bytes()))
                .map(|()| Granted::Header)
                .map_err(Denied::Token);
        }
        let mut stale = false;
        for value in session_cookies(headers) {
            if self.session_matches(value) {
                return Ok(Granted::Cookie);
            }
            stale = true;
        }
        if let Some(candidate) = query.and_then(query_token) {
            return if self.token.matches(candidate.as_bytes()) {
                Ok(Granted::Query)
            } else {
                Err(Denied::Token(AuthFailure::Wrong))
            };
        }
        Err(if stale {
            Denied::StaleSession
        } else {
            Denied::Token(AuthFailure::Missing)
        })
    }
}

/// The values of every `framecast_session` cookie the request carries.
fn session_cookies(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then_some(value.trim_matches('"'))
        })
}

/// The value of `token=` in a query string, decoded.
fn query_token(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == TOKEN_PARAMETER)
        .map(|(_, value)| value.into_owned())
}

/// Paths anyone may ask for: health probes (load balancers and
/// orchestrators carry no token), the login form and the pages' static
/// script and style (they hold nothing about the streams).
fn is_open(path: &str) -> bool {
    path == HEALTH_PATH || path == LOGIN_PATH || path.starts_with("/assets/")
}

/// The HTML pages: `/`, `/streams/{id}` and `/streams/by-name/{name}`.
/// Only these are redirected to drop `?token=` from the address bar; the
/// path is echoed in `Location` only in these forms (each starts with one
/// `/` and a fixed segment), so the redirect cannot lead elsewhere.
fn is_page(path: &str) -> bool {
    path == "/"
        || path
            .strip_prefix("/streams/")
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        || path.strip_prefix("/streams/by-name/").is_some_and(|name| {
            !name.is_empty()
                && !name.contains('/')
                && !name.ends_with(".mjpg")
                && !name.ends_with(".jpg")
        })
}

/// `query` without its token: what the page is reloaded with (a shared
/// link's other settings, such as `quality`, are kept).
fn without_token(query: &str) -> String {
    let mut kept = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != TOKEN_PARAMETER {
            kept.append_pair(&k, &v);
        }
    }
    kept.finish()
}

/// Whether the client is a browser asking for a page (it gets the login
/// form rather than a line of text).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// The middleware in front of every route.
pub(super) async fn require(
    Extract(state): Extract<Arc<State>>,
    request: Request,
    next: Next,
) -> Response {
    // The connection's place: a request with the token (or to a viewer
    // that asks for none) and a health probe keep theirs while answered;
    // anything else leaves the connection first to make room.
    let place = request.extensions().get::<Place>().cloned();
    let busy = |proven: bool| {
        if let Some(place) = &place {
            place.busy(proven);
        }
    };
    let Some(auth) = state.auth.as_ref() else {
        busy(true);
        return next.run(request).await;
    };
    let path = request.uri().path();
    if is_open(path) {
        if path == HEALTH_PATH {
            busy(false);
        }
        return next.run(request).await;
    }
    let checked = auth.check(request.headers(), request.uri().query());
    if checked.is_ok() {
        busy(true);
    }
    match checked {
        Ok(Granted::Header | Granted::Cookie) => next.run(request).await,
        Ok(Granted::Query) if request.method() == Method::GET && is_page(path) => {
            let rest = without_token(request.uri().query().unwrap_or(""));
            let location = if rest.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{rest}")
            };
            see_other(&location, Some(auth.cookie.clone()))
        }
        Ok(Granted::Query) => {
            let mut response = next.run(request).await;
            response
                .headers_mut()
                .append(header::SET_COOKIE, auth.cookie.clone());
            response
        }
        Err(denied) => {
            state.counters.auth_failures.fetch_add(1, Ordering::Relaxed);
            state.log(
                LOG_AUTH,
                tracing::Level::INFO,
                format_args!(
                    "HTTP request for {path} refused as unauthenticated: {}",
                    denied.reason()
                ),
            );
            unauthorized(
                request.method() == Method::GET && wants_html(request.headers()),
                denied,
            )
        }
    }
}

/// `GET /login`: the form.
pub(super) async fn login_form(Extract(state): Extract<Arc<State>>) -> Response {
    if state.auth.is_none() {
        return see_other("/", None);
    }
    login_page(StatusCode::OK, None)
}

/// `POST /login`: `token=…` as a form; on success the session cookie and
/// a redirect to the index.
pub(super) async fn login_submit(
    Extract(state): Extract<Arc<State>>,
    request: Request,
) -> Response {
    let Some(auth) = state.auth.as_ref() else {
        return see_other("/", None);
    };
    let form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return super::routes::text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the login form is sent as application/x-www-form-urlencoded\n".to_owned(),
        );
    }
    // Bounded in size before anything is buffered (by the length announced,
    // then by what arrives), and in time like a request head.
    let too_large = || {
        super::routes::text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the login form is limited to {HTTP_MAX_LOGIN_FORM} bytes\n"),
        )
    };
    // Read before anything is decided, so that the connection can carry
    // the next request whatever the answer.
    let headers = request.headers().clone();
    let ip = request.extensions().get::<Peer>().map(|p| p.0.ip());
    let browser = wants_html(&headers);
    let announced = http_body::Body::size_hint(request.body()).lower();
    if announced > HTTP_MAX_LOGIN_FORM as u64 {
        return too_large();
    }
    let limit = state.config.header_timeout;
    let body = match tokio::time::timeout(limit, to_bytes(request.into_body(), HTTP_MAX_LOGIN_FORM))
        .await
    {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return too_large(),
        Err(_) => {
            return super::routes::text(
                StatusCode::REQUEST_TIMEOUT,
                format!("the login form did not arrive within {limit:?}\n"),
            );
        }
    };
    if let Err(why) = same_origin(&headers, state.tls.is_some()) {
        state
            .counters
            .logins_cross_origin
            .fetch_add(1, Ordering::Relaxed);
        state.log(
            LOG_AUTH,
            tracing::Level::INFO,
            format_args!("HTTP login refused: {why}"),
        );
        return super::routes::text(
            StatusCode::FORBIDDEN,
            format!("login refused: {why}; log in from this viewer's own page ({LOGIN_PATH})\n"),
        );
    }
    let throttled = ip.and_then(|ip| lock(&state.logins).check(ip, Instant::now()).err());
    if let Some(wait) = throttled {
        state
            .counters
            .logins_throttled
            .fetch_add(1, Ordering::Relaxed);
        state.log(
            LOG_AUTH,
            tracing::Level::INFO,
            format_args!(
                "HTTP login from {} refused unchecked: too many failed logins, it must wait \
                 {wait:.0?}",
                ip.map_or_else(String::new, |ip| ip.to_string())
            ),
        );
        return too_many(browser, wait);
    }
    let candidate = std::str::from_utf8(&body).ok().and_then(query_token);
    match candidate {
        Some(token) if auth.token.matches(token.as_bytes()) => {
            if let Some(ip) = ip {
                lock(&state.logins).succeeded(ip);
            }
            see_other("/", Some(auth.cookie.clone()))
        }
        _ => {
            state.counters.auth_failures.fetch_add(1, Ordering::Relaxed);
            let wait = ip.map_or(Duration::ZERO, |ip| {
                lock(&state.logins).failed(ip, Instant::now())
            });
            state.log(
                LOG_AUTH,
                tracing::Level::INFO,
                format_args!("HTTP login refused: the access token is not valid"),
            );
            let mut response = login_page(
                StatusCode::UNAUTHORIZED,
                Some("That is not the access token of this receiver."),
            );
            if !wait.is_zero() {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after(wait));
            }
            response
        }
    }
}

/// `Retry-After` for `wait`, in whole seconds rounded up.
fn retry_after(wait: Duration) -> HeaderValue {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(seconds.max(1))
}

/// `429`: the address must wait before its next login attempt.
fn too_many(browser: bool, wait: Duration) -> Response {
    let seconds = retry_after(wait);
    let text = format!(
        "Too many failed logins from this address: try again in {} s.",
        seconds.to_str().unwrap_or("a few")
    );
    let mut response = if browser {
        login_page(StatusCode::TOO_MANY_REQUESTS, Some(&text))
    } else {
        super::routes::text(StatusCode::TOO_MANY_REQUESTS, format!("{text}\n"))
    };
    response.headers_mut().insert(header::RETRY_AFTER, seconds);
    response
}

/// Checks that a request (the login form, a settings change) was sent by a
/// page of this viewer, the viewer's one same-origin check: its
/// `Origin` (else its `Referer`) names the host the request was sent to
/// (`Host`, or `X-Forwarded-Host` behind a proxy), with the viewer's
/// scheme. A request with neither header (not from a browser) passes;
/// `Origin: null` (a sandboxed or privacy-restricted page) does not.
/// `Err` says what came from where.
pub(crate) fn same_origin(headers: &HeaderMap, tls: bool) -> Result<(), String> {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (sent, what) = match (
        value(header::ORIGIN.as_str()),
        value(header::REFERER.as_str()),
    ) {
        (Some(origin), _) => (origin, "Origin"),
        (None, Some(referer)) => (referer, "Referer"),
        (None, None) => return Ok(()),
    };
    let scheme = if tls { "https" } else { "http" };
    let hosts = [value(header::HOST.as_str()), value("x-forwarded-host")];
    let sent_authority = origin_authority(sent);
    let matches = sent_authority
        .as_ref()
        .is_some_and(|(sent_scheme, authority)| {
            hosts.into_iter().flatten().any(|host| {
                let host = host.split(',').next().unwrap_or("").trim();
                // Behind a proxy that ends TLS, the page's scheme is https.
                let schemes_agree = sent_scheme == scheme || (!tls && sent_scheme == "https");
                schemes_agree && same_authority(authority, host, sent_scheme)
            })
        });
    if matches {
        return Ok(());
    }
    let host = value(header::HOST.as_str()).unwrap_or("(no Host header)");
    let shown: String = sent.chars().take(200).collect();
    Err(format!(
        "it was sent from another site ({what}: {shown:?}), not from this viewer \
         ({scheme}://{host})"
    ))
}

/// The scheme and `host[:port]` of an origin or URL, lower-cased.
fn origin_authority(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    // No user information: `https://viewer@evil.example` is evil.example.
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some((scheme.to_ascii_lowercase(), authority.to_ascii_lowercase()))
}

/// Whether `a` and `b` (each `host[:port]`) name the same place, the
/// scheme's default port being implied.
fn same_authority(a: &str, b: &str, scheme: &str) -> bool {
    let default = if scheme == "https" { ":443" } else { ":80" };
    let strip = |s: &str| {
        let s = s.to_ascii_lowercase();
        match s.strip_suffix(default) {
            Some(host) => host.to_owned(),
            None => s,
        }
    };
    strip(a) == strip(b)
}

fn see_other(location: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, location);
    }
    if let Some(cookie) = cookie {
        h.insert(header::SET_COOKIE, cookie);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn unauthorized(browser: bool, denied: Denied) -> Response {
    let mut response = if browser {
        login_page(StatusCode::UNAUTHORIZED, None)
    } else {
        super::routes::text(
            StatusCode::UNAUTHORIZED,
            format!("unauthenticated: {}\n", denied.reason()),
        )
    };
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"framecast\""),
    );
    response
}

fn login_page(status: StatusCode, error: Option<&str>) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        Body::from(pages::login(error)),
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'",
        ),
    );
    // Not `no-referrer`: a browser would then send the form with
    // `Origin: null`, which the login refuses as cross-origin.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth::new(Token::new("0123456789abcdef-secret").unwrap(), true)
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    #[test]
    fn only_forms_from_this_viewer_log_in() {
        let check =
            |pairs: &[(header::HeaderName, &str)], tls: bool| same_origin(&headers(pairs), tls);
        let host = (header::HOST, "cam.example:8080");
        // Not from a browser: nothing to compare.
        assert!(check(std::slice::from_ref(&host), false).is_ok());
        for ok in [
            "http://cam.example:8080",
            "http://CAM.example:8080",
            // Behind a proxy that ends TLS.
            "https://cam.example:8080",
        ] {
            assert!(
                check(&[host.clone(), (header::ORIGIN, ok)], false).is_ok(),
                "{ok}"
            );
        }
        assert!(
            check(
                &[
                    host.clone(),
                    (header::REFERER, "http://cam.example:8080/login?x=1")
                ],
                false
            )
            .is_ok()
        );
        assert!(
            check(
                &[
                    (header::HOST, "cam.example"),
                    (header::ORIGIN, "https://cam.example:443")
                ],
                true
            )
            .is_ok()
        );
        assert!(
            check(
                &[
                    (header::HOST, "127.0.0.1:9000"),
                    ("x-forwarded-host".parse().unwrap(), "cam.example"),
                    (header::ORIGIN, "https://cam.example")
                ],
                false
            )
            .is_ok()
        );
        for bad in [
            "http://evil.example",
            "http://cam.example:8081",
            "http://cam.example:8080.evil.example",
            "http://cam.example:8080@evil.example",
            "null",
            "",
        ] {
            let err = check(&[host.clone(), (header::ORIGIN, bad)], false).unwrap_err();
            assert!(err.contains("another site"), "{err}");
            assert!(err.contains("http://cam.example:8080"), "{err}");
        }
        // An https viewer refuses a plain http page of the same host.
        assert!(
            check(
                &[
                    (header::HOST, "cam.example"),
                    (header::ORIGIN, "http://cam.example")
                ],
                true
            )
            .is_err()
        );
        // Origin decides when both are sent.
        assert!(
            check(
                &[
                    host.clone(),
                    (header::ORIGIN, "http://evil.example"),
                    (header::REFERER, "http://cam.example:8080/login")
                ],
                false
            )
            .is_err()
        );
    }

    #[test]
    fn each_way_of_carrying_the_token() {
        let a = auth();
        let none = HeaderMap::new();
        assert_eq!(
            a.check(&none, None),
            Err(Denied::Token(AuthFailure::Missing))
        );
        let bearer = headers(&[(header::AUTHORIZATION, "Bearer 0123456789abcdef-secret")]);
        assert_eq!(a.check(&bearer, None), Ok(Granted::Header));
        let wrong = headers(&[(header::AUTHORIZATION, "Bearer 0123456789abcdef-secreT")]);
        assert_eq!(
            a.check(&wrong, None),
            Err(Denied::Token(AuthFailure::Wrong))
        );
        // A wrong header is not rescued by a right query.
        assert_eq!(
            a.check(&wrong, Some("token=0123456789abcdef-secret")),
            Err(Denied::Token(AuthFailure::Wrong))
        );
        assert_eq!(
            a.check(&none, Some("x=1&token=0123456789abcdef%2Dsecret")),
            Ok(Granted::Query)
        );
        assert_eq!(
            a.check(&none, Some("token=nope")),
            Err(Denied::Token(AuthFailure::Wrong))
        );
        let cookie = format!("theme=dark; {SESSION_COOKIE}={}", a.session);
        assert_eq!(
            a.check(&headers(&[(header::COOKIE, &cookie)]), None),
            Ok(Granted::Cookie)
        );
        // The token itself is not a session key.
        let token_as_cookie = format!("{SESSION_COOKIE}=0123456789abcdef-secret");
        assert_eq!(
            a.check(&headers(&[(header::COOKIE, &token_as_cookie)]), None),
            Err(Denied::StaleSession)
        );
        // Another viewer's (or an earlier run's) session is not this one.
        let other = auth();
        let cookie = format!("{SESSION_COOKIE}={}", other.session);
        assert_eq!(
            a.check(&headers(&[(header::COOKIE, &cookie)]), None),
            Err(Denied::StaleSession)
        );
    }

    #[test]
    fn the_cookie_holds_no_token_and_is_locked_down() {
        let a = auth();
        let cookie = a.cookie.to_str().unwrap();
        assert!(!cookie.contains("secret"));
        assert!(cookie.starts_with(&format!("{SESSION_COOKIE}={}", a.session)));
        for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        assert_eq!(a.session.len(), 64);
        assert!(format!("{a:?}").contains("redacted"));
    }

    #[test]
    fn open_paths_and_pages() {
        for open in ["/healthz", "/login", "/assets/viewer.js"] {
            assert!(is_open(open), "{open}");
        }
        for closed in ["/", "/stats.json", "/metrics", "/streams/1.mjpg", "/loginx"] {
            assert!(!is_open(closed), "{closed}");
        }
        assert!(is_page("/") && is_page("/streams/12"));
        assert!(is_page("/streams/by-name/door%20cam"));
        for not in [
            "//evil.example",
            "/streams/",
            "/streams/1.jpg",
            "/stats.json",
            "/streams/by-name/",
            "/streams/by-name/door.mjpg",
            "/streams/by-name/door.jpg",
            "/streams/by-name/a/b",
        ] {
            assert!(!is_page(not), "{not}");
        }
    }

    #[test]
    fn a_links_other_settings_survive_the_redirect() {
        assert_eq!(without_token("token=abc"), "");
        assert_eq!(
            without_token("quality=original&token=abc&size=actual"),
            "quality=original&size=actual"
        );
        // Re-encoded: nothing the client wrote is echoed as it was.
        assert_eq!(without_token("a=%0d%0aX:1"), "a=%0D%0AX%3A1");
    }
}
