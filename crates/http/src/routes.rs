//! The routes and their handlers.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State as Extract};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use framecast_stream::{StreamHandle, StreamId, StreamStats};
use serde::Serialize;

use super::conn::LOG_VIEWER;
use super::mjpeg::{MjpegBody, PartClock, Viewer};
use super::{MJPEG_BOUNDARY, State, auth, metrics, pages};

/// How long a client refused for lack of room is asked to wait.
const RETRY_AFTER_SECONDS: &str = "5";

/// Every route, behind the access check (which lets `/healthz`, the login
/// form and the assets through).
pub(super) fn app(state: Arc<State>) -> Router {
    Router::new()
        .route(
            auth::LOGIN_PATH,
            get(auth::login_form).post(auth::login_submit),
        )
        .route("/", get(index))
        .route("/streams/{file}", get(stream_file))
        .route("/stats.json", get(stats_json))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/assets/viewer.js", get(script))
        .route("/assets/viewer.css", get(style))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::require,
        ))
        .with_state(state)
}

/// Headers every dynamic answer carries: never cached, never sniffed.
fn dynamic(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

pub(super) fn text(status: StatusCode, body: String) -> Response {
    dynamic(
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response(),
    )
}

/// A page: HTML whose scripts, styles and images come from here only.
fn html(body: String) -> Response {
    let mut response =
        dynamic(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response());
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; img-src 'self'; script-src 'self'; style-src 'self'; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "not found\n".to_owned())
}

fn no_stream(id: StreamId) -> Response {
    text(
        StatusCode::NOT_FOUND,
        format!("no stream {id} on this receiver (it may have ended); /stats.json lists them\n"),
    )
}

/// The streams whose session is open, oldest first.
fn live(state: &State) -> Vec<StreamHandle> {
    let mut streams: Vec<_> = state
        .receiver
        .streams()
        .into_iter()
        .filter(StreamHandle::is_connected)
        .collect();
    streams.sort_by_key(StreamHandle::id);
    streams
}

fn live_stream(state: &State, id: StreamId) -> Option<StreamHandle> {
    state.receiver.stream(id).filter(StreamHandle::is_connected)
}

async fn index(Extract(state): Extract<Arc<State>>) -> Response {
    html(pages::index(&live(&state)))
}

/// What `/streams/{file}` asks for.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    Page(StreamId),
    Mjpeg(StreamId),
    Snapshot(StreamId),
}

/// `12`, `12.mjpg` or `12.jpg`; anything else is not a stream's file.
fn parse_file(file: &str) -> Option<Asked> {
    let (id, kind): (&str, fn(StreamId) -> Asked) = if let Some(id) = file.strip_suffix(".mjpg") {
        (id, Asked::Mjpeg)
    } else if let Some(id) = file.strip_suffix(".jpg") {
        (id, Asked::Snapshot)
    } else {
        (file, Asked::Page)
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok().map(kind)
}

async fn stream_file(
    Extract(state): Extract<Arc<State>>,
    Path(file): Path<String>,
    clock: Option<axum::Extension<Arc<PartClock>>>,
) -> Response {
    match parse_file(&file) {
        Some(Asked::Page(id)) => match live_stream(&state, id) {
            Some(stream) => html(pages::stream(&stream)),
            None => no_stream(id),
        },
        Some(Asked::Mjpeg(id)) => mjpeg(state, id, clock.map(|c| c.0)),
        Some(Asked::Snapshot(id)) => snapshot(&state, id).await,
        None => not_found().await,
    }
}

fn mjpeg(state: Arc<State>, id: StreamId, clock: Option<Arc<PartClock>>) -> Response {
    let Some(stream) = live_stream(&state, id) else {
        return no_stream(id);
    };
    let Ok(permit) = Arc::clone(&state.viewers).try_acquire_owned() else {
        state
            .counters
            .viewers_refused
            .fetch_add(1, Ordering::Relaxed);
        let max = state.config.max_viewers;
        state.log(
            LOG_VIEWER,
            tracing::Level::INFO,
            format_args!("MJPEG viewer of stream {id} refused: {max} viewers are connected"),
        );
        let mut response = text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many viewers: this receiver serves at most {max} at once, and that many \
                 are watching; try again later\n"
            ),
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
        return response;
    };
    // The body holds the stream's watch only: when the stream ends and
    // the receiver lets go of it, the watch closes and the response ends.
    let frames = stream.watch();
    drop(stream);
    let body = MjpegBody::new(frames, Viewer::new(state, id, permit), clock);
    let mut response = dynamic(Response::new(Body::new(body)));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(concat!(
            "multipart/x-mixed-replace; boundary=",
            super::mjpeg::boundary!()
        )),
    );
    // Proxies that buffer responses (nginx) would hold frames back.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    debug_assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .is_ok_and(|v| v.ends_with(MJPEG_BOUNDARY))
    );
    response
}

async fn snapshot(state: &State, id: StreamId) -> Response {
    let Some(stream) = live_stream(state, id) else {
        return no_stream(id);
    };
    let mut frames = stream.watch();
    drop(stream);
    let waited =
        tokio::time::timeout(state.config.snapshot_wait, frames.wait_for(Option::is_some)).await;
    let frame = match waited {
        Ok(Ok(frame)) => frame.clone(),
        // The stream ended, or no frame came in time.
        Ok(Err(_)) | Err(_) => None,
    };
    let Some(frame) = frame else {
        let mut response = text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("stream {id} has no frame yet; try again later\n"),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    dynamic(
        (
            [(header::CONTENT_TYPE, "image/jpeg")],
            Body::from(frame.jpeg().clone()),
        )
            .into_response(),
    )
}

/// One entry of `/stats.json`: the stream's stats and its viewers now.
#[derive(Serialize)]
struct StreamEntry<'a> {
    #[serde(flatten)]
    stats: &'a StreamStats,
    viewers: u64,
}

async fn stats_json(Extract(state): Extract<Arc<State>>) -> Response {
    let stats = state.receiver.stats();
    let entries: Vec<_> = stats
        .per_stream
        .iter()
        .map(|s| StreamEntry {
            stats: s,
            viewers: state.viewers_of(s.id),
        })
        .collect();
    match serde_json::to_vec(&entries) {
        Ok(json) => dynamic(
            (
                [(header::CONTENT_TYPE, "application/json")],
                Body::from(json),
            )
                .into_response(),
        ),
        // Plain numbers and strings always serialise.
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

async fn metrics(Extract(state): Extract<Arc<State>>) -> Response {
    dynamic(
        (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            metrics::render(&state),
        )
            .into_response(),
    )
}

async fn healthz(Extract(state): Extract<Arc<State>>) -> Response {
    if state.receiver.is_stopping() {
        text(StatusCode::SERVICE_UNAVAILABLE, "stopping\n".to_owned())
    } else {
        text(StatusCode::OK, "ok\n".to_owned())
    }
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", pages::SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", pages::STYLE)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_files_parse() {
        assert_eq!(parse_file("12"), Some(Asked::Page(12)));
        assert_eq!(parse_file("12.mjpg"), Some(Asked::Mjpeg(12)));
        assert_eq!(parse_file("7.jpg"), Some(Asked::Snapshot(7)));
        for bad in [
            "",
            ".jpg",
            "+1",
            "-1",
            "1.png",
            "a.mjpg",
            "1.jpg.jpg",
            "99999999999",
            " 1",
        ] {
            assert_eq!(parse_file(bad), None, "{bad:?}");
        }
    }
}
