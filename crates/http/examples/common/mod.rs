//! What the HTTP examples share: a bare HTTP/1 GET with hyper's client, and
//! an MJPEG body split into its parts.

// Each example uses some of it (`http_load` neither the timestamps nor the
// tiers), and a module of an example is nobody's public API.
#![allow(dead_code, unreachable_pub)]

use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::{Buf, Bytes, BytesMut};
use http_body::Body as _;
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Sends `GET path` on a new connection; returns the status and the body.
pub async fn get(addr: SocketAddr, path: &str) -> Result<(u16, Incoming), String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    let request = Request::get(path)
        .header("host", addr.to_string())
        .body(String::new())
        .unwrap();
    let answer = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    Ok((answer.status().as_u16(), answer.into_body()))
}

/// The next chunk of a body, `None` at its end.
pub async fn chunk(body: &mut Incoming) -> Option<Bytes> {
    loop {
        let frame = poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
        if let Ok(data) = frame.ok()?.into_data() {
            return Some(data);
        }
    }
}

/// A part's `X-Timestamp: SECONDS.MICROS` as µs since the epoch.
pub fn parse_timestamp(v: &str) -> Option<u64> {
    let (s, us) = v.trim().split_once('.')?;
    let us = format!("{us:0<6}");
    Some(s.parse::<u64>().ok()? * 1_000_000 + us.get(..6)?.parse::<u64>().ok()?)
}

/// One part of an MJPEG body.
pub struct Part {
    /// The JPEG, when kept (see [`Parts::feed`]); else empty.
    pub jpeg: Bytes,
    /// Its capture time (`X-Timestamp`), in µs since the epoch.
    pub captured_us: Option<u64>,
    /// The tier it was encoded for (`X-Tier`).
    pub tier: Option<String>,
    /// Its length (`Content-Length`).
    pub len: usize,
}

/// Splits an MJPEG body into parts by their `Content-Length`.
#[derive(Default)]
pub struct Parts {
    head: BytesMut,
    /// JPEG bytes still to come in the current part.
    body_left: usize,
    jpeg: BytesMut,
    captured_us: Option<u64>,
    tier: Option<String>,
    len: usize,
}

impl Parts {
    /// Feeds a chunk; calls `part` with each complete part (its JPEG kept
    /// when `keep`).
    pub fn feed(&mut self, mut data: Bytes, keep: bool, mut part: impl FnMut(Part)) {
        while data.has_remaining() {
            if self.body_left > 0 {
                let n = self.body_left.min(data.len());
                let taken = data.split_to(n);
                if keep {
                    self.jpeg.extend_from_slice(&taken);
                }
                self.body_left -= n;
                if self.body_left == 0 {
                    part(Part {
                        jpeg: self.jpeg.split().freeze(),
                        captured_us: self.captured_us.take(),
                        tier: self.tier.take(),
                        len: self.len,
                    });
                }
                continue;
            }
            self.head.extend_from_slice(&data);
            data.clear();
            let Some(end) = self.head.windows(4).position(|w| w == b"\r\n\r\n") else {
                return;
            };
            // Everything up to the part's blank line: the delimiter and the
            // part's headers.
            let head = self.head.split_to(end + 4);
            let text = String::from_utf8_lossy(&head);
            let mut len = None;
            for line in text.lines() {
                let Some((k, v)) = line.split_once(':') else {
                    continue;
                };
                let k = k.trim();
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse::<usize>().ok();
                } else if k.eq_ignore_ascii_case("x-timestamp") {
                    self.captured_us = parse_timestamp(v);
                } else if k.eq_ignore_ascii_case("x-tier") {
                    self.tier = Some(v.trim().to_owned());
                }
            }
            self.len = len.expect("a part without Content-Length");
            self.body_left = self.len;
            if keep {
                self.jpeg.reserve(self.len);
            }
            data = self.head.split().freeze();
        }
    }
}
