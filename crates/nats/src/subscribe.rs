//! [`NatsSource`]: a receiver whose streams come from a NATS subscription.
//!
//! ```text
//!  NATS subscription ──▶ one task on the receiver's runtime:
//!  (wildcards allowed;     subject seen for the first time ─▶ open a stream
//!   ≤ NATS_SUBSCRIPTION_     (named by stream_name; max_clients applies;
//!   CAPACITY waiting)         refused subjects are tried again after
//!                             busy_retry_after)
//!                          each message ─▶ that stream: counted, checked
//!                             (check_frame), delivered to the window, the
//!                             viewers, the recorder, the stats
//!                          no message for idle_timeout ─▶ the stream ends
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use framecast_proto::handshake::StatusCode;
use framecast_stream::ReceiverHandle;
use framecast_stream::events::{EndCause, TimeoutKind};
use framecast_stream::ingest::{Fed, Ingest, IngestStream, OpenError};
use futures_util::StreamExt;
use tokio::time::MissedTickBehavior;

use super::{
    DEFAULT_SUBSCRIPTION, Link, NatsError, NatsUrl, Role, check_subject, run_on, subject_matches,
};
use framecast_stream::name::subject_name;

/// Subjects remembered as refused (the receiver was full) at once; beyond,
/// the oldest memories are forgotten and those subjects are tried again at
/// their next message.
pub const MAX_REFUSED_SUBJECTS: usize = 1024;

/// The name a stream from `subject` gets when it came through the
/// subscription `subscription`: the subject without the subscription's
/// leading tokens up to its first wildcard (a subscription without
/// wildcards names its stream by the whole subject), each token read back
/// into the name it was made from ([`subject_name`], which says how:
/// a token that [`subject_token`](crate::subject_token) did not make is
/// taken as written). A sender named `a.b` publishes to `framecast.a~2eb`, and its
/// stream is named `a.b` again.
///
/// A name longer than [`MAX_NAME_LEN`](framecast_stream::handshake::MAX_NAME_LEN) bytes (no framecast sender makes
/// one) is not cut into another subject's name: it keeps its first
/// characters and ends with `~` and eight hexadecimal digits of a hash of
/// the subject's tokens ([`NAME_HASH_LEN`](crate::NAME_HASH_LEN) bytes in all), so two subjects
/// alike in their first 64 bytes are two names. The name is then checked
/// as every stream's name is ([`StreamName`](framecast_stream::StreamName)):
/// one holding a control character opens no stream.
///
/// ```
/// use framecast_nats::stream_name;
///
/// assert_eq!(stream_name("framecast.>", "framecast.studio~20pattern"), "studio pattern");
/// assert_eq!(stream_name("framecast.>", "framecast.a~2eb"), "a.b");
/// assert_eq!(stream_name("framecast.>", "framecast.a_b"), "a_b");
/// assert_eq!(stream_name("site1.*.cam", "site1.door.cam"), "door.cam");
/// assert_eq!(stream_name("cams.door", "cams.door"), "cams.door");
/// let long = format!("framecast.{}", "x".repeat(70));
/// assert_eq!(stream_name("framecast.>", &long), format!("{}~77f3c97d", "x".repeat(55)));
/// ```
pub fn stream_name(subscription: &str, subject: &str) -> String {
    let literal = subscription
        .split('.')
        .take_while(|t| *t != "*" && *t != ">")
        .count();
    let wild = subscription.split('.').any(|t| t == "*" || t == ">");
    let rest = if wild {
        subject
            .splitn(literal + 1, '.')
            .nth(literal)
            .unwrap_or(subject)
    } else {
        subject
    };
    subject_name(rest)
}

/// What a [`NatsSource`] has done so far (the frames themselves are in the
/// receiver's stats, per stream).
#[derive(Debug, Clone, Default, serde::Serialize)]
#[non_exhaustive]
pub struct NatsSourceStats {
    /// Messages taken from the subscription.
    pub messages: u64,
    /// Messages the NATS client dropped because the subscription was full
    /// (the receiver's network thread fell behind).
    pub dropped: u64,
    /// Messages on a subject that could not be a stream (the receiver
    /// served `max_clients` streams already).
    pub refused: u64,
    /// Whether a server is connected now.
    pub connected: bool,
    /// Connections made to NATS servers (the first included).
    pub connections: u64,
    /// Connections lost.
    pub disconnections: u64,
}

#[derive(Debug)]
struct State {
    subscription: String,
    link: Link,
    messages: AtomicU64,
    refused: AtomicU64,
    closed: AtomicBool,
}

/// Makes a receiver take streams from a NATS subscription: each subject
/// seen is a stream, named by [`stream_name`], exactly as a TCP sender's
/// (registered under the receiver's `max_clients`, every message checked
/// with [`check_frame`](framecast_stream::check_frame), counted in the stats, shown,
/// recorded), and ended when no message came for the receiver's idle
/// timeout. The receiver's TCP listener runs on beside it.
///
/// It runs on the receiver's runtime and stops with the receiver. When the
/// NATS server goes away, the client fails over along the list and
/// subscribes again; a stream silent for longer than the idle timeout in
/// the meantime ends, and a new one starts when its frames come back.
#[derive(Debug, Clone)]
pub struct NatsSource {
    state: Arc<State>,
}

impl NatsSource {
    /// Connects to `url`'s servers and subscribes to its subject (wildcards
    /// allowed; [`DEFAULT_SUBSCRIPTION`] when it names none). When no server
    /// answers yet, it starts all the same and keeps trying in the
    /// background (the log says so once): the streams come once a server
    /// is up, as they come back after a server was lost.
    ///
    /// # Errors
    ///
    /// [`NatsError::Connect`] when a server refuses the credentials,
    /// [`NatsError::Subscribe`] when the subscription is refused,
    /// [`NatsError::Stopped`] when the receiver has stopped.
    pub fn start(receiver: &impl AsRef<ReceiverHandle>, url: &NatsUrl) -> Result<Self, NatsError> {
        let subscription = url.subject().unwrap_or(DEFAULT_SUBSCRIPTION).to_owned();
        check_subject(&subscription, true)?;
        let handle = receiver.as_ref();
        if handle.is_stopping() {
            return Err(NatsError::Stopped);
        }
        let runtime = handle.runtime().ok_or(NatsError::Stopped)?;
        let (to, subject) = (url.clone(), subscription.clone());
        let (link, subscriber) = run_on(runtime, async move {
            // NATS not up yet is no reason not to start: the receiver runs,
            // and takes the streams once a server answers.
            let link = Link::connect_or_keep_trying(&to, Role::Source).await?;
            let subscribe_error =
                |source: Box<dyn std::error::Error + Send + Sync>| NatsError::Subscribe {
                    subject: subject.clone(),
                    source,
                };
            let subscriber = link
                .client
                .subscribe(subject.clone())
                .await
                .map_err(|e| subscribe_error(Box::new(e)))?;
            // The server has the subscription once this returns: frames
            // published from now on reach this receiver. Not connected yet,
            // the client sends the subscription when it connects.
            if link.is_connected() {
                link.client
                    .flush()
                    .await
                    .map_err(|e| subscribe_error(Box::new(e)))?;
            }
            Ok::<_, NatsError>((link, subscriber))
        })
        .ok_or(NatsError::Stopped)??;
        tracing::info!("receiving the streams of NATS subject {subscription}");
        let state = Arc::new(State {
            subscription,
            link,
            messages: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        });
        if !handle.spawn(run(Arc::clone(&state), handle.clone(), subscriber)) {
            return Err(NatsError::Stopped);
        }
        Ok(Self { state })
    }

    /// The subscription.
    pub fn subscription(&self) -> &str {
        &self.state.subscription
    }

    /// Whether frames published to `subject` would come to this receiver.
    pub fn matches(&self, subject: &str) -> bool {
        subject_matches(&self.state.subscription, subject)
    }

    /// The counters now.
    pub fn stats(&self) -> NatsSourceStats {
        let s = &self.state;
        NatsSourceStats {
            messages: s.messages.load(Ordering::Relaxed),
            dropped: s.link.slow_consumers(),
            refused: s.refused.load(Ordering::Relaxed),
            connected: s.link.is_connected() && !s.closed.load(Ordering::Relaxed),
            connections: s.link.connects(),
            disconnections: s.link.disconnects(),
        }
    }
}

struct Entry {
    stream: IngestStream,
    last: Instant,
}

/// How often streams are looked at for silence: a stream ends between one
/// idle timeout and a quarter more after its last message.
fn sweep_every(idle_timeout: Duration) -> Duration {
    (idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

async fn run(state: Arc<State>, handle: ReceiverHandle, mut subscriber: async_nats::Subscriber) {
    let ingest = handle.ingest();
    let limits = ingest.limits();
    let mut streams: HashMap<String, Entry> = HashMap::new();
    let mut refused: HashMap<String, Instant> = HashMap::new();
    let mut sweep = tokio::time::interval(sweep_every(limits.idle_timeout));
    sweep.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut stopping = std::pin::pin!(handle.stopped());
    loop {
        let message = tokio::select! {
            biased;
            () = &mut stopping => break,
            message = subscriber.next() => match message {
                Some(message) => message,
                None => break,
            },
            _ = sweep.tick() => {
                let now = Instant::now();
                let silent = streams
                    .extract_if(|_, e| now.duration_since(e.last) >= limits.idle_timeout);
                for (_, entry) in silent {
                    entry.stream.end(EndCause::Timeout {
                        kind: TimeoutKind::Idle,
                        after: limits.idle_timeout,
                    });
                }
                continue;
            }
        };
        state.messages.fetch_add(1, Ordering::Relaxed);
        let subject = message.subject.as_str();
        if !streams.contains_key(subject) {
            if refused
                .get(subject)
                .is_some_and(|t| t.elapsed() < limits.busy_retry_after)
            {
                state.refused.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let name = stream_name(&state.subscription, subject);
            let Some(stream) = open(&ingest, subject, &name, state.link.peer()) else {
                state.refused.fetch_add(1, Ordering::Relaxed);
                if refused.len() >= MAX_REFUSED_SUBJECTS {
                    refused.clear();
                }
                refused.insert(subject.to_owned(), Instant::now());
                continue;
            };
            refused.remove(subject);
            streams.insert(
                subject.to_owned(),
                Entry {
                    stream,
                    last: Instant::now(),
                },
            );
        }
        let Some(entry) = streams.get_mut(subject) else {
            continue;
        };
        entry.last = Instant::now();
        match entry.stream.feed(message.payload) {
            Fed::Corrupt(e) => tracing::debug!(
                stream = entry.stream.id().get(),
                "corrupt frame from NATS subject {} dropped: {e}",
                framecast_net::printable(&message.subject)
            ),
            Fed::CountReached => break,
            // Accepted, and any outcome added later: on to the next.
            _ => {}
        }
    }
    state.closed.store(true, Ordering::Relaxed);
    // Dropping the streams ends them (the receiver is stopping), and
    // dropping the subscriber unsubscribes.
    drop(streams);
    let _ = subscriber.unsubscribe().await;
}

/// Opens the stream of a subject, unless its name is no stream name or
/// the receiver is full (the refusal reported), or it is stopping.
fn open(
    ingest: &Ingest,
    subject: &str,
    name: &str,
    peer: std::net::SocketAddr,
) -> Option<IngestStream> {
    match ingest.open(Some(name), peer) {
        Ok(stream) => {
            stream.refuse_asks(
                "the stream comes from NATS, whose publishers hear nothing back from a \
                 receiver: change its settings where it is published",
            );
            Some(stream)
        }
        Err(OpenError::Busy { max_clients }) => {
            ingest.refuse(
                peer,
                StatusCode::Busy,
                &format!(
                    "busy: already serving {max_clients} streams; \"{}\" is left out",
                    framecast_net::printable(name)
                ),
            );
            None
        }
        Err(OpenError::BadName(e)) => {
            ingest.refuse(
                peer,
                StatusCode::BadHello,
                &format!(
                    "NATS subject {} makes no stream name: {e}; its messages are dropped",
                    framecast_net::printable(subject)
                ),
            );
            None
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use framecast_stream::handshake::MAX_NAME_LEN;

    #[test]
    fn names_are_bounded_whole_characters_and_distinct() {
        let long = format!("framecast.{}", "é".repeat(60));
        let name = stream_name("framecast.>", &long);
        let (kept, hash) = name.split_at(name.len() - crate::NAME_HASH_LEN);
        assert!(
            name.len() <= MAX_NAME_LEN && kept.chars().all(|c| c == 'é'),
            "{name}"
        );
        assert!(hash.starts_with('~') && hash[1..].bytes().all(|b| b.is_ascii_hexdigit()));
        // Alike in their first 64 bytes (and more), two names.
        let a = stream_name("framecast.>", &format!("framecast.{}a", "x".repeat(80)));
        let b = stream_name("framecast.>", &format!("framecast.{}b", "x".repeat(80)));
        assert_ne!(a, b);
        assert!(a.len() <= MAX_NAME_LEN && b.len() <= MAX_NAME_LEN);
        // Exactly MAX_NAME_LEN: kept whole.
        let whole = "n".repeat(MAX_NAME_LEN);
        assert_eq!(
            stream_name("framecast.>", &format!("framecast.{whole}")),
            whole
        );
        // A long name decoded from a short-enough token is bounded too.
        let escaped = crate::subject_token(&"é".repeat(40));
        let name = stream_name("framecast.>", &format!("framecast.{escaped}"));
        assert!(name.len() <= MAX_NAME_LEN, "{name}");
        assert_eq!(stream_name("*", "a.b"), "a.b");
        assert_eq!(stream_name("a.*", "a.b"), "b");
        assert_eq!(stream_name("a.*", "a.b~2ec"), "b.c");
        // Names read back from tokens are the senders' names.
        for name in [
            "a.b",
            "a_b",
            "a*b",
            "a>b",
            "\u{1b}[2J",
            "cam\u{202e}1",
            "é t",
        ] {
            let subject = format!("framecast.{}", crate::subject_token(name));
            assert_eq!(stream_name("framecast.>", &subject), name);
        }
    }

    #[test]
    fn silence_is_looked_at_often_enough() {
        assert_eq!(sweep_every(Duration::from_secs(10)), Duration::from_secs(1));
        assert_eq!(
            sweep_every(Duration::from_millis(400)),
            Duration::from_millis(100)
        );
        assert_eq!(
            sweep_every(Duration::from_millis(1)),
            Duration::from_millis(10)
        );
    }
}
