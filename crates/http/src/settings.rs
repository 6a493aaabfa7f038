//! `POST /streams/{id}/settings` (and `/streams/by-name/{name}/settings`):
//! ask a stream's sender, at run time, to keep within a JPEG quality, a
//! picture size and a frame rate. `GET` on the same address says what was
//! asked and whether the sender can be asked at all.
//!
//! ```text
//! POST {"quality": 40, "size": "320x240", "fps": 15}
//!   │ the access check (token, cookie), as every route
//!   ▼
//! same origin? ── Origin (else Referer) names another host ──▶ 403
//!   │ Content-Type: application/json? ── no ──▶ 415
//!   ▼
//! body ≤ HTTP_MAX_SETTINGS_BODY, valid values ── no ──▶ 413 / 400
//!   ▼
//! the stream ── none live ──▶ 404
//!   │ its sender reads feedback? ── no (legacy framing, NATS, --adapt off) ──▶ 409 + why
//!   ▼
//! StreamHandle::ask_sender ──▶ the session's feedback, with the next frame
//!   ▼                          (a sender that adapts takes it as its ceiling)
//! 200 {"stream": 1, "name": "yard", "asked": {...}}
//! ```
//!
//! Every answer but the access check's is JSON: `{"error": "..."}` when
//! refused. A field left out asks nothing of that setting; `{}` lifts every
//! ask, and the sender goes back to its own settings (as far as its link
//! allows). An ask lasts as long as the sender's session: a sender that
//! reconnects starts from its own settings again.
//!
//! # Cross-site requests
//!
//! A browser sends the viewer's cookie with any request to it, even one a
//! page of another site makes. Such a request is refused here: an
//! `Origin` header (every browser sends one with a `POST`), or failing that
//! a `Referer`, must name the host the request was sent to (its `Host`);
//! and the body must be `application/json`, which an HTML form cannot
//! send, and which a script of another origin can send only after a CORS
//! preflight this viewer never grants. A client that is no browser (curl,
//! a script) sends neither header and proves itself with the token.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State as Extract};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use framecast_proto::handshake::Settings;
use framecast_stream::StreamHandle;
use serde::{Deserialize, Serialize};

use super::State;
use super::conn::LOG_SETTINGS;
use super::routes::named;
use crate::limits::{HTTP_MAX_SETTINGS_BODY, SETTINGS_MAX_FPS, SETTINGS_MAX_SIDE};

/// What a `POST` may carry: every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Posted {
    quality: Option<u32>,
    width: Option<u32>,
    height: Option<u32>,
    /// `"WxH"`, instead of `width` and `height`.
    size: Option<String>,
    fps: Option<u32>,
}

/// An ask as JSON: each ceiling, or `null` for none.
#[derive(Debug, Serialize)]
struct AskedJson {
    quality: Option<u32>,
    width: Option<u32>,
    height: Option<u32>,
    fps: Option<u32>,
}

impl From<&Settings> for AskedJson {
    fn from(s: &Settings) -> Self {
        let some = |v: u32| (v > 0).then_some(v);
        Self {
            quality: some(s.max_quality),
            width: some(s.max_width),
            height: some(s.max_height),
            fps: some(s.max_fps),
        }
    }
}

/// The answer about one stream.
#[derive(Debug, Serialize)]
struct Answer {
    stream: u32,
    name: String,
    /// What was asked (the newest ask), `null` before any.
    asked: Option<AskedJson>,
    /// Whether the sender reads what it is asked.
    can_ask: bool,
    /// Why not, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl Answer {
    fn of(stream: &StreamHandle) -> Self {
        let reason = stream.asks_refused();
        Self {
            stream: stream.id().get(),
            name: stream.name().to_owned(),
            asked: stream.asked().as_ref().map(AskedJson::from),
            can_ask: reason.is_none(),
            reason,
        }
    }
}

fn json(status: StatusCode, body: &impl Serialize) -> Response {
    let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn error(status: StatusCode, reason: String) -> Response {
    #[derive(Serialize)]
    struct Error {
        error: String,
    }
    json(status, &Error { error: reason })
}

/// The stream of `/streams/{id}/settings`, or the answer saying there is
/// none.
fn by_id(state: &State, id: &str) -> Result<StreamHandle, Box<Response>> {
    let stream = if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        id.parse()
            .ok()
            .and_then(|id| state.receiver.stream(framecast_stream::StreamId::new(id)))
            .filter(StreamHandle::is_connected)
    } else {
        None
    };
    stream.ok_or_else(|| {
        Box::new(error(
            StatusCode::NOT_FOUND,
            format!(
                "no live stream {id:?} on this receiver (it may have ended); /stats.json lists them"
            ),
        ))
    })
}

fn by_name(state: &State, name: &str) -> Result<StreamHandle, Box<Response>> {
    named(state, name).ok_or_else(|| {
        Box::new(error(
            StatusCode::NOT_FOUND,
            format!(
                "no live stream named {name:?} on this receiver (is its sender running?); \
                 /stats.json lists them"
            ),
        ))
    })
}

/// `GET /streams/{id}/settings`.
pub(super) async fn get_by_id(
    Extract(state): Extract<Arc<State>>,
    Path(id): Path<String>,
) -> Response {
    match by_id(&state, &id) {
        Ok(stream) => json(StatusCode::OK, &Answer::of(&stream)),
        Err(r) => *r,
    }
}

/// `GET /streams/by-name/{name}/settings`.
pub(super) async fn get_by_name(
    Extract(state): Extract<Arc<State>>,
    Path(name): Path<String>,
) -> Response {
    match by_name(&state, &name) {
        Ok(stream) => json(StatusCode::OK, &Answer::of(&stream)),
        Err(r) => *r,
    }
}

/// `POST /streams/{id}/settings`.
pub(super) async fn post_by_id(
    Extract(state): Extract<Arc<State>>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let settings = match read(&state, request).await {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match by_id(&state, &id) {
        Ok(stream) => ask(&state, &stream, settings),
        Err(r) => *r,
    }
}

/// `POST /streams/by-name/{name}/settings`.
pub(super) async fn post_by_name(
    Extract(state): Extract<Arc<State>>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let settings = match read(&state, request).await {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match by_name(&state, &name) {
        Ok(stream) => ask(&state, &stream, settings),
        Err(r) => *r,
    }
}

/// Asks `stream`'s sender, or says why it cannot be asked.
fn ask(state: &State, stream: &StreamHandle, settings: Settings) -> Response {
    let refused = |reason: String| {
        error(
            StatusCode::CONFLICT,
            format!(
                "stream {} ({:?}) cannot be asked to change its settings: {reason}",
                stream.id(),
                stream.name()
            ),
        )
    };
    if let Some(reason) = stream.asks_refused() {
        return refused(reason);
    }
    if !stream.ask_sender(settings) {
        // The session changed its mind meanwhile (it cannot today; a
        // transport may).
        return refused(stream.asks_refused().unwrap_or_default());
    }
    state.log(
        LOG_SETTINGS,
        tracing::Level::INFO,
        format_args!(
            "stream {} asked to keep within {}",
            stream.id(),
            describe(&settings)
        ),
    );
    json(StatusCode::OK, &Answer::of(stream))
}

/// `settings` in words, for the log.
fn describe(s: &Settings) -> String {
    let mut parts = Vec::new();
    if s.max_quality > 0 {
        parts.push(format!("quality {}", s.max_quality));
    }
    if s.max_width > 0 || s.max_height > 0 {
        let side = |v: u32| {
            if v > 0 {
                v.to_string()
            } else {
                "any".to_owned()
            }
        };
        parts.push(format!("{}x{}", side(s.max_width), side(s.max_height)));
    }
    if s.max_fps > 0 {
        parts.push(format!("{} fps", s.max_fps));
    }
    if parts.is_empty() {
        "its own settings (every ask lifted)".to_owned()
    } else {
        parts.join(", ")
    }
}

/// Checks a `POST`'s origin, type, size and values, and reads it.
async fn read(state: &State, request: Request) -> Result<Settings, Box<Response>> {
    if let Err(reason) = same_origin(request.headers(), state.tls.is_some()) {
        state.log(
            LOG_SETTINGS,
            tracing::Level::INFO,
            format_args!("settings request refused: {reason}"),
        );
        return Err(Box::new(error(StatusCode::FORBIDDEN, reason)));
    }
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(Box::new(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the settings are sent as application/json, e.g. {\"quality\": 40}".to_owned(),
        )));
    }
    // Bounded in size before anything is buffered (by the length announced,
    // then by what arrives), and in time like a request head.
    let too_large = || {
        Box::new(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the settings are limited to {HTTP_MAX_SETTINGS_BODY} bytes"),
        ))
    };
    if http_body::Body::size_hint(request.body()).lower() > HTTP_MAX_SETTINGS_BODY as u64 {
        return Err(too_large());
    }
    let limit = state.config.header_timeout;
    let body =
        match tokio::time::timeout(limit, to_bytes(request.into_body(), HTTP_MAX_SETTINGS_BODY))
            .await
        {
            Ok(Ok(body)) => body,
            Ok(Err(_)) => return Err(too_large()),
            Err(_) => {
                return Err(Box::new(error(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("the settings did not arrive within {limit:?}"),
                )));
            }
        };
    parse(&body).map_err(|reason| Box::new(error(StatusCode::BAD_REQUEST, reason)))
}

/// The settings a body asks for, checked.
fn parse(body: &[u8]) -> Result<Settings, String> {
    let shape = "send a JSON object with any of quality (1-100), width and height or size \
                 (\"WxH\"), and fps, such as {\"quality\": 40}";
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("the settings are not JSON ({e}); {shape}"))?;
    if !value.is_object() {
        return Err(format!("the settings are not a JSON object; {shape}"));
    }
    let posted: Posted = serde_json::from_value(value)
        .map_err(|e| format!("the settings are not what this viewer reads ({e}); {shape}"))?;
    let mut s = Settings::default();
    if let Some(q) = posted.quality {
        if !(1..=100).contains(&q) {
            return Err(format!("quality must be between 1 and 100, not {q}"));
        }
        s.max_quality = q;
    }
    let (width, height) = match (&posted.size, posted.width, posted.height) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err("give size, or width and height, not both".to_owned());
        }
        (Some(size), None, None) => {
            let parsed = size
                .split_once(['x', 'X'])
                .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)));
            match parsed {
                Some((w, h)) => (Some(w), Some(h)),
                None => {
                    return Err(format!(
                        "size is WIDTHxHEIGHT in pixels, such as \"640x480\", not {size:?}"
                    ));
                }
            }
        }
        (None, w, h) => (w, h),
    };
    for (what, v) in [("width", width), ("height", height)] {
        if let Some(v) = v
            && !(1..=SETTINGS_MAX_SIDE).contains(&v)
        {
            return Err(format!(
                "{what} must be between 1 and {SETTINGS_MAX_SIDE} pixels, not {v}"
            ));
        }
    }
    s.max_width = width.unwrap_or(0);
    s.max_height = height.unwrap_or(0);
    if let Some(fps) = posted.fps {
        if !(1..=SETTINGS_MAX_FPS).contains(&fps) {
            return Err(format!(
                "fps must be between 1 and {SETTINGS_MAX_FPS} frames a second, not {fps}"
            ));
        }
        s.max_fps = fps;
    }
    Ok(s)
}

/// Whether a request comes from a page of this viewer (or from no page at
/// all: a program), by the viewer's one same-origin check (the login
/// form's); `Err` says why not.
fn same_origin(headers: &HeaderMap, tls: bool) -> Result<(), String> {
    super::auth::same_origin(headers, tls).map_err(|why| {
        format!(
            "cross-origin request refused: {why}; change settings from the viewer's own page, \
             or without a browser with the access token"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    #[test]
    fn values_are_checked() {
        let ok = parse(br#"{"quality": 40, "size": "320x240", "fps": 15}"#).unwrap();
        assert_eq!(
            (ok.max_quality, ok.max_width, ok.max_height, ok.max_fps),
            (40, 320, 240, 15)
        );
        let ok = parse(br#"{"width": 320}"#).unwrap();
        assert_eq!((ok.max_width, ok.max_height), (320, 0));
        // Nothing asked: every ask lifted.
        assert_eq!(parse(b"{}").unwrap(), Settings::default());
        for (bad, says) in [
            (
                r#"{"quality": 0}"#,
                "quality must be between 1 and 100, not 0",
            ),
            (r#"{"quality": 101}"#, "not 101"),
            (r#"{"quality": -5}"#, "invalid value"),
            (r#"{"quality": "high"}"#, "invalid type"),
            (r#"{"fps": 0}"#, "fps must be between 1 and"),
            (r#"{"fps": 100000}"#, "not 100000"),
            (r#"{"width": 0}"#, "width must be between 1 and"),
            (r#"{"height": 99999}"#, "height must be between"),
            (r#"{"size": "big"}"#, "size is WIDTHxHEIGHT"),
            (r#"{"size": "1x1", "width": 2}"#, "not both"),
            (r#"{"colour": "red"}"#, "unknown field"),
            ("[40]", "not a JSON object"),
            ("quality=40", "not JSON"),
        ] {
            let e = parse(bad.as_bytes()).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn only_this_viewers_pages_and_programs_may_ask() {
        let host = (header::HOST, "127.0.0.1:8080");
        assert!(same_origin(&headers(std::slice::from_ref(&host)), false).is_ok());
        assert!(
            same_origin(
                &headers(&[host.clone(), (header::ORIGIN, "http://127.0.0.1:8080")]),
                false
            )
            .is_ok()
        );
        assert!(
            same_origin(
                &headers(&[
                    host.clone(),
                    (header::REFERER, "https://127.0.0.1:8080/streams/1?x=1")
                ]),
                false
            )
            .is_ok()
        );
        for (name, value) in [
            (header::ORIGIN, "http://evil.example"),
            (header::ORIGIN, "http://127.0.0.1:9999"),
            (header::ORIGIN, "null"),
            (header::ORIGIN, "http://127.0.0.1:8080.evil.example"),
            (header::REFERER, "http://evil.example/127.0.0.1:8080"),
        ] {
            let e =
                same_origin(&headers(&[host.clone(), (name.clone(), value)]), false).unwrap_err();
            assert!(
                e.starts_with("cross-origin request refused"),
                "{value}: {e}"
            );
        }
        // The Origin decides when both are sent.
        assert!(
            same_origin(
                &headers(&[
                    host.clone(),
                    (header::ORIGIN, "http://evil.example"),
                    (header::REFERER, "http://127.0.0.1:8080/")
                ]),
                false
            )
            .is_err()
        );
        // A browser's request always names a host.
        assert!(
            same_origin(
                &headers(&[(header::ORIGIN, "http://127.0.0.1:8080")]),
                false
            )
            .is_err()
        );
    }
}
