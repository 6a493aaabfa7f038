//! Client deadlines answered with `DEADLINE_EXCEEDED`.
//!
//! tonic's server reads `grpc-timeout` itself, but answers an expired
//! deadline with `CANCELLED`. [`DeadlineLayer`] sits inside tonic's timer and
//! starts its own clock first (in `call`, before tonic starts its own), so
//! it always expires no later than tonic's and the client sees
//! `DEADLINE_EXCEEDED`, the code the gRPC spec prescribes. It also applies the
//! server's own cap on how long any request may run.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use http::{HeaderMap, Request, Response};
use tokio::time::Instant;
use tonic::Status;
use tower_layer::Layer;
use tower_service::Service;

/// The request header carrying the client's deadline, as a relative timeout.
const GRPC_TIMEOUT: &str = "grpc-timeout";

/// Makes [`Deadline`] services.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DeadlineLayer {
    max: Option<Duration>,
}

impl DeadlineLayer {
    /// Requests end at the client's deadline or after `max`, whichever is
    /// sooner; `None` leaves them to the client's deadline alone.
    pub(crate) fn new(max: Option<Duration>) -> Self {
        Self { max }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            max: self.max,
        }
    }
}

/// Ends a request with `DEADLINE_EXCEEDED` when its deadline passes.
#[derive(Clone, Debug)]
pub(crate) struct Deadline<S> {
    inner: S,
    max: Option<Duration>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> Service<Request<B>> for Deadline<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    RB: Default + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let client = match parse_grpc_timeout(request.headers()) {
            Ok(timeout) => timeout,
            Err(raw) => {
                // As tonic does: a malformed header is no deadline.
                tracing::debug!(header = ?raw, "ignoring a malformed grpc-timeout");
                None
            }
        };
        let timeout = match (client, self.max) {
            (Some(c), Some(m)) => Some(c.min(m)),
            (c, m) => c.or(m),
        };
        // Fix the deadline now, not when the future is first polled: tonic's
        // own timer starts right after this returns, and ours must not end
        // later than it.
        let deadline = timeout.map(|t| Instant::now() + t);
        let response = self.inner.call(request);
        Box::pin(async move {
            let Some(deadline) = deadline else {
                return response.await;
            };
            match tokio::time::timeout_at(deadline, response).await {
                Ok(result) => result,
                Err(_) => Ok(Status::deadline_exceeded(format!(
                    "the request's deadline of {:?} expired on the server",
                    timeout.unwrap_or_default()
                ))
                .into_http()),
            }
        })
    }
}

/// Reads a `grpc-timeout` header: one to eight ASCII digits and a unit,
/// `H`ours, `M`inutes, `S`econds, `m`illiseconds, `u`microseconds or
/// `n`anoseconds. `Ok(None)` when absent, `Err` with the raw value when
/// malformed.
fn parse_grpc_timeout(headers: &HeaderMap) -> Result<Option<Duration>, String> {
    let Some(value) = headers.get(GRPC_TIMEOUT) else {
        return Ok(None);
    };
    let raw = || String::from_utf8_lossy(value.as_bytes()).into_owned();
    let bytes = value.as_bytes();
    let Some((&unit, digits)) = bytes.split_last() else {
        return Err(raw());
    };
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(raw());
    }
    // At most eight digits, so this cannot overflow a u64.
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    let timeout = match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return Err(raw()),
    };
    Ok(Some(timeout))
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::HeaderValue;

    use super::*;

    fn parse(value: &str) -> Result<Option<Duration>, String> {
        let mut headers = HeaderMap::new();
        headers.insert(GRPC_TIMEOUT, HeaderValue::from_str(value).unwrap());
        parse_grpc_timeout(&headers)
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_grpc_timeout(&HeaderMap::new()), Ok(None));
        assert_eq!(parse("2H"), Ok(Some(Duration::from_secs(7200))));
        assert_eq!(parse("3M"), Ok(Some(Duration::from_secs(180))));
        assert_eq!(parse("4S"), Ok(Some(Duration::from_secs(4))));
        assert_eq!(parse("50m"), Ok(Some(Duration::from_millis(50))));
        assert_eq!(parse("6u"), Ok(Some(Duration::from_micros(6))));
        assert_eq!(
            parse("99999999n"),
            Ok(Some(Duration::from_nanos(99_999_999)))
        );
    }

    #[test]
    fn refuses_malformed_values() {
        for bad in ["", "m", "123456789m", "5", "5x", "-5m", "1.5S", " 5m"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    /// A service that answers after `delay`.
    #[derive(Clone)]
    struct Slow(Duration);

    impl Service<Request<()>> for Slow {
        type Response = Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = BoxFuture<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            let delay = self.0;
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                Ok(Response::new(tonic::body::Body::default()))
            })
        }
    }

    fn request(timeout: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(t) = timeout {
            request
                .headers_mut()
                .insert(GRPC_TIMEOUT, HeaderValue::from_str(t).unwrap());
        }
        request
    }

    fn grpc_status(response: &Response<tonic::body::Body>) -> Option<&str> {
        response
            .headers()
            .get("grpc-status")
            .map(|v| v.to_str().unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_client_deadline_is_deadline_exceeded() {
        let mut svc = DeadlineLayer::new(None).layer(Slow(Duration::from_secs(1)));
        let response = svc.call(request(Some("100m"))).await.unwrap();
        assert_eq!(grpc_status(&response), Some("4"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_server_cap_applies_without_a_client_deadline() {
        let mut svc =
            DeadlineLayer::new(Some(Duration::from_millis(10))).layer(Slow(Duration::from_secs(1)));
        let response = svc.call(request(None)).await.unwrap();
        assert_eq!(grpc_status(&response), Some("4"));
        // The shorter of the two wins.
        let response = svc.call(request(Some("5S"))).await.unwrap();
        assert_eq!(grpc_status(&response), Some("4"));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_within_their_deadline_pass_untouched() {
        let mut svc =
            DeadlineLayer::new(Some(Duration::from_secs(5))).layer(Slow(Duration::from_millis(10)));
        for timeout in [None, Some("1S"), Some("garbage")] {
            let response = svc.call(request(timeout)).await.unwrap();
            assert_eq!(grpc_status(&response), None, "{timeout:?}");
        }
    }
}
