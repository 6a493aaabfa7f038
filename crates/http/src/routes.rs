//! The routes and their handlers.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State as Extract};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use framecast_stream::{StreamHandle, StreamId};

use super::conn::LOG_VIEWER;
use super::meter::Meter;
use super::mjpeg::{MjpegBody, PartClock, Picture, Target, Viewer, tier_name};
use super::tier::{Ask, rung_tier};
use super::{MJPEG_BOUNDARY, State, auth, metrics, pages, settings};

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
        .route("/streams/by-name/{file}", get(by_name_file))
        .route(
            "/streams/{file}/settings",
            get(settings::get_by_id).post(settings::post_by_id),
        )
        .route(
            "/streams/by-name/{file}/settings",
            get(settings::get_by_name).post(settings::post_by_name),
        )
        .route("/stream", get(single_stream))
        .route("/snapshot", get(single_snapshot))
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

/// A live stream by name: the newest of that name (a sender that
/// reconnected has a new number; the old session may linger until its
/// timeout).
pub(super) fn named(state: &State, name: &str) -> Option<StreamHandle> {
    state
        .receiver
        .streams()
        .into_iter()
        .filter(|s| s.is_connected() && s.name() == name)
        .max_by_key(StreamHandle::id)
}

/// Waits up to `wait` for a live stream named `name` (its sender
/// reconnecting); `None` if none comes or the viewer stops.
pub(super) async fn wait_named(
    state: Arc<State>,
    name: Arc<str>,
    wait: Duration,
) -> Option<StreamHandle> {
    let mut changes = state.receiver.stream_changes();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        changes.borrow_and_update();
        if let Some(s) = named(&state, &name) {
            return Some(s);
        }
        tokio::select! {
            () = state.cancel.cancelled() => return None,
            () = tokio::time::sleep_until(deadline) => return None,
            changed = changes.changed() => {
                if changed.is_err() {
                    return None;
                }
            }
        }
    }
}

/// The connection's part clock and meter, from the request's extensions.
type Conn = (
    Option<axum::Extension<Arc<PartClock>>>,
    Option<axum::Extension<Arc<Meter>>>,
);

async fn index(
    Extract(state): Extract<Arc<State>>,
    RawQuery(query): RawQuery,
    clock: Option<axum::Extension<Arc<PartClock>>>,
    meter: Option<axum::Extension<Arc<Meter>>>,
) -> Response {
    // mjpg-streamer's addresses, for the tools configured for it.
    let action = query.as_deref().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "action")
            .map(|(_, v)| v.into_owned())
    });
    match action.as_deref() {
        None => html(pages::wall(&live(&state))),
        Some("stream") => single(state, query, true, (clock, meter)).await,
        Some("snapshot") => single(state, query, false, (clock, meter)).await,
        Some(other) => text(
            StatusCode::NOT_FOUND,
            format!(
                "unknown action {other:?}: this receiver answers action=stream and action=snapshot\n"
            ),
        ),
    }
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

/// The tier parameters of a query, or the answer refusing them.
fn ask(query: Option<&str>) -> Result<Ask, Box<Response>> {
    Ask::from_query(query.unwrap_or(""))
        .map_err(|e| Box::new(text(StatusCode::BAD_REQUEST, format!("{e}\n"))))
}

async fn stream_file(
    Extract(state): Extract<Arc<State>>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    clock: Option<axum::Extension<Arc<PartClock>>>,
    meter: Option<axum::Extension<Arc<Meter>>>,
) -> Response {
    let asked = parse_file(&file);
    let id = match asked {
        Some(Asked::Page(id) | Asked::Mjpeg(id) | Asked::Snapshot(id)) => id,
        None => return not_found().await,
    };
    let Some(stream) = live_stream(&state, id) else {
        return no_stream(id);
    };
    let ask = match ask(query.as_deref()) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    match asked {
        Some(Asked::Page(_)) => html(pages::stream(&stream)),
        Some(Asked::Mjpeg(_)) => mjpeg(state, &stream, Target::Id, ask, (clock, meter)),
        _ => snapshot(&state, &stream, ask).await,
    }
}

/// `/streams/by-name/{name}`, `{name}.mjpg`, `{name}.jpg`: a stream by
/// name. A name that itself ends in `.jpg` or `.mjpg` is the page when no
/// stream has the shorter name.
async fn by_name_file(
    Extract(state): Extract<Arc<State>>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    clock: Option<axum::Extension<Arc<PartClock>>>,
    meter: Option<axum::Extension<Arc<Meter>>>,
) -> Response {
    let ask = match ask(query.as_deref()) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    for (suffix, mjpg) in [(".mjpg", true), (".jpg", false)] {
        if let Some(name) = file.strip_suffix(suffix)
            && let Some(stream) = named(&state, name)
        {
            return if mjpg {
                mjpeg(
                    state,
                    &stream,
                    Target::Name(Arc::from(name)),
                    ask,
                    (clock, meter),
                )
            } else {
                snapshot(&state, &stream, ask).await
            };
        }
    }
    match named(&state, &file) {
        Some(stream) => html(pages::stream(&stream)),
        None => {
            let name = file
                .strip_suffix(".mjpg")
                .or_else(|| file.strip_suffix(".jpg"))
                .unwrap_or(&file);
            text(
                StatusCode::NOT_FOUND,
                format!(
                    "no live stream named {name:?} on this receiver (is its sender running?); \
                     /stats.json lists them\n"
                ),
            )
        }
    }
}

async fn single_stream(
    Extract(state): Extract<Arc<State>>,
    RawQuery(query): RawQuery,
    clock: Option<axum::Extension<Arc<PartClock>>>,
    meter: Option<axum::Extension<Arc<Meter>>>,
) -> Response {
    single(state, query, true, (clock, meter)).await
}

async fn single_snapshot(
    Extract(state): Extract<Arc<State>>,
    RawQuery(query): RawQuery,
) -> Response {
    single(state, query, false, (None, None)).await
}

/// `/stream`, `/snapshot` and mjpg-streamer's `/?action=…`: the one live
/// stream, or the one `?name=` names.
async fn single(state: Arc<State>, query: Option<String>, mjpg: bool, conn: Conn) -> Response {
    let ask = match ask(query.as_deref()) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let name = query.as_deref().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.into_owned())
    });
    let stream = match name {
        Some(name) => match named(&state, &name) {
            Some(s) => s,
            None => {
                return text(
                    StatusCode::NOT_FOUND,
                    format!(
                        "no live stream named {name:?} on this receiver; /stats.json lists them\n"
                    ),
                );
            }
        },
        None => {
            let streams = live(&state);
            match streams.as_slice() {
                [one] => one.clone(),
                [] => {
                    let mut r = text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "no live stream yet: waiting for a sender; try again\n".to_owned(),
                    );
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                    return r;
                }
                many => {
                    let names: Vec<&str> = many.iter().map(StreamHandle::name).collect();
                    return text(
                        StatusCode::NOT_FOUND,
                        format!(
                            "this receiver has {} live streams: add ?name= with one of {}\n",
                            many.len(),
                            names.join(", ")
                        ),
                    );
                }
            }
        }
    };
    if mjpg {
        let target = Target::Name(Arc::from(stream.name()));
        mjpeg(state, &stream, target, ask, conn)
    } else {
        snapshot(&state, &stream, ask).await
    }
}

fn mjpeg(
    state: Arc<State>,
    stream: &StreamHandle,
    target: Target,
    ask: Ask,
    conn: Conn,
) -> Response {
    let id = stream.id();
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
    let viewer = Viewer::new(Arc::clone(&state), id, permit);
    let (clock, meter) = conn;
    let body = match MjpegBody::new(
        stream,
        target,
        ask,
        viewer,
        clock.map(|c| c.0),
        meter.map(|m| m.0),
    ) {
        Ok(body) => body,
        Err(e) => {
            let mut response = text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{e}; try one of those\n"),
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
            return response;
        }
    };
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

fn no_frame(stream: &StreamHandle) -> Response {
    let mut response = text(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("stream {} has no frame yet; try again later\n", stream.id()),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// A stream's newest frame: the original bytes, or re-encoded at the tier
/// asked for (`quality=auto` is the ladder's best rung under the width
/// asked). `X-Timestamp`, `X-Sequence` and `X-Tier` as on MJPEG parts.
async fn snapshot(state: &State, stream: &StreamHandle, ask: Ask) -> Response {
    let wait = state.config.snapshot_wait;
    let mut frames = stream.watch();
    // The watch's borrow is not held past this statement (it cannot cross
    // an await).
    let frame = match tokio::time::timeout(wait, frames.wait_for(Option::is_some)).await {
        Ok(Ok(frame)) => frame.clone(),
        // The stream ended, or no frame came in time.
        Ok(Err(_)) | Err(_) => None,
    };
    let Some(frame) = frame else {
        return no_frame(stream);
    };
    let tier = match ask {
        Ask::Original => None,
        Ask::Fixed { quality, width } => Ask::fixed_tier(quality, width, frame.width()),
        Ask::Auto { max_width } => rung_tier(0, frame.width(), max_width),
    };
    let picture = match tier {
        None => Picture::original(&frame),
        Some(tier) => match state.tiers.snapshot(stream, tier, wait).await {
            Ok(Some(p)) => Picture::tiered(&p),
            Ok(None) => return no_frame(stream),
            Err(e) => return text(StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")),
        },
    };
    let mut response = dynamic(
        (
            [(header::CONTENT_TYPE, "image/jpeg")],
            Body::from(picture.jpeg.clone()),
        )
            .into_response(),
    );
    let h = response.headers_mut();
    for (name, value) in [
        ("x-timestamp", picture.timestamp()),
        ("x-sequence", picture.sequence.to_string()),
        ("x-tier", tier_name(picture.tier)),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    response
}

async fn stats_json(Extract(state): Extract<Arc<State>>) -> Response {
    match serde_json::to_vec(&state.document()) {
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
        let id = StreamId::new;
        assert_eq!(parse_file("12"), Some(Asked::Page(id(12))));
        assert_eq!(parse_file("12.mjpg"), Some(Asked::Mjpeg(id(12))));
        assert_eq!(parse_file("7.jpg"), Some(Asked::Snapshot(id(7))));
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
