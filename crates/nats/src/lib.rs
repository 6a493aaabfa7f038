//! Frames over NATS: live frames through a NATS server or cluster, so that
//! any number of machines can watch a camera without connecting to it.
//!
//! An adapter built only on the engines' public seams: the receiver's
//! [`ReceiverHandle`](framecast_stream::ReceiverHandle) and ingest port
//! ([`framecast_stream::ingest`]), and the sender's
//! [`Transport`](framecast_stream::transport::Transport).
//!
//! ```text
//!  framecast send ──TCP──▶ framecast recv ──▶ Publisher ──┐ PREFIX.<name>
//!                          (window, recorder…)            │
//!  framecast send --to nats://…/SUBJECT ──────────────────┤   NATS server
//!                                                         │   or cluster
//!        framecast recv --from nats://…/framecast.> ◀─────┘   (core NATS:
//!        (NatsSource: each subject a stream, as a TCP sender)   at most once)
//! ```
//!
//! - [`Publisher`] follows a running [`Receiver`](framecast_stream::Receiver) and
//!   publishes every frame it accepts, its `Video` message byte for byte,
//!   to `PREFIX.<stream name>` ([`subject_token`] makes the name one
//!   subject token, one-to-one: two names never share a subject). It never slows the receiver: each stream has a
//!   latest-wins slot in front of NATS, so a slow or unreachable server
//!   costs frames for NATS only (counted in [`PublisherStats`]).
//! - [`NatsSource`] makes a receiver take streams from a NATS subscription
//!   (wildcards allowed): each subject is a stream, registered, checked and
//!   counted exactly as a TCP sender's, ended after the receiver's idle
//!   timeout. Its name is the one the subject was made from
//!   ([`token_name`], see [`stream_name`]), checked as every stream's name
//!   is ([`StreamName`](framecast_stream::StreamName)).
//! - [`NatsTransport`] makes a sender publish its encoded messages instead
//!   of connecting to a receiver.
//!
//! Live frames use core NATS: at most once, no acknowledgement, the newest
//! frame wins. Clients fail over along the server list given in the
//! [`NatsUrl`] (and to servers the cluster announces), and reconnect for
//! ever; every timeout and capacity is a constant below, set otherwise
//! with [`NatsLimits`] on the URL, and listed with what happens when it is
//! hit in `docs/reliability.md`.
//!
//! # Example
//!
//! A receiver publishing into NATS, and a second receiver showing what the
//! first publishes (needs a `nats-server` on port 4222):
//!
//! ```no_run
//! use framecast_nats::{NatsSource, NatsUrl, Publisher};
//! use framecast_stream::ReceiverBuilder;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let camera_side = ReceiverBuilder::new("127.0.0.1:5252".parse()?).start()?;
//! let publisher = Publisher::start(&camera_side, &"nats://127.0.0.1:4222".parse()?)?;
//!
//! let viewer = ReceiverBuilder::new("127.0.0.1:0".parse()?).start()?;
//! let url: NatsUrl = "nats://127.0.0.1:4222/framecast.>".parse()?;
//! let source = NatsSource::start(&viewer, &url)?;
//! // ... `framecast send --to 127.0.0.1:5252` now shows up in `viewer`.
//! # drop((publisher, source));
//! # Ok(())
//! # }
//! ```

mod client;
mod publish;
mod send;
mod subscribe;
mod url;

use std::path::PathBuf;
use std::time::Duration;

pub(crate) use self::client::{Link, Role};
pub use self::publish::{Publisher, PublisherStats};
pub use self::send::NatsTransport;
pub use self::subscribe::{MAX_REFUSED_SUBJECTS, NatsSource, NatsSourceStats, stream_name};
pub use self::url::{DEFAULT_NATS_PORT, MAX_SUBJECT_LEN, MAX_TOKEN_LEN, NatsUrl, check_subject};
pub(crate) use self::url::{publishes_into, subject_matches};
pub use framecast_stream::name::{NAME_HASH_LEN, SUBJECT_ESCAPE, subject_token, token_name};

/// The subject prefix a receiver publishes under when the URL names none:
/// frames go to `framecast.<stream name>`.
pub const DEFAULT_PREFIX: &str = "framecast";

/// What a NATS receiver subscribes to when the URL names no subject: every
/// stream published under [`DEFAULT_PREFIX`].
pub const DEFAULT_SUBSCRIPTION: &str = "framecast.>";

/// How long one connection attempt to one server may take (TCP connect and
/// the NATS `INFO`/`CONNECT` exchange).
pub const NATS_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How often a client pings its server (when the server has sent nothing
/// else in between). At the third ping still unanswered the client drops
/// the connection and fails over: a server that stops answering without
/// closing its connections is given up 4 to 6 s after it stopped (see
/// [`NATS_STALL_BOUND`]); one whose process died is noticed at once. A
/// ping is a few bytes each way.
pub const NATS_PING_INTERVAL: Duration = Duration::from_secs(2);

/// The delay before the second reconnection attempt after a connection is
/// lost; the first is immediate, and each later one waits twice as long as
/// the one before, up to [`NATS_MAX_RECONNECT_DELAY`]. Each attempt tries
/// the next server of the list.
pub const NATS_RECONNECT_DELAY: Duration = Duration::from_millis(100);

/// The longest wait between two reconnection attempts. Clients reconnect
/// for ever: a server list that is all down is tried again every 2 s.
pub const NATS_MAX_RECONNECT_DELAY: Duration = Duration::from_secs(2);

/// How soon frames flow again after the server a client is on dies (its
/// process gone, its port refusing connections) while another server of
/// its list is up: the immediate first attempt, at most one reconnection
/// delay per dead server before a live one, and one connection. With three
/// servers the delays add up to 300 ms; this bound leaves room for a loaded
/// machine, and the tests assert it with a 3-node cluster.
pub const NATS_FAILOVER_BOUND: Duration = Duration::from_secs(3);

/// How soon frames flow again after the server a client is on stops
/// answering without closing its connections (a hung process, a machine or
/// link gone) while another server of its list is up. The hung server is
/// given up at the third unanswered ping (4 to 6 s with
/// [`NATS_PING_INTERVAL`]); the client may try it once more, which costs
/// [`NATS_CONNECT_TIMEOUT`] (its port may still accept connections that it
/// never answers), and then connects to a live one after a reconnection
/// delay: about 8.1 s at most with one hung server. That is within the
/// receiver's default idle timeout (10 s,
/// [`DEFAULT_IDLE_TIMEOUT`](framecast_stream::limits::DEFAULT_IDLE_TIMEOUT)), so
/// viewers keep their streams. The tests assert it with a frozen cluster
/// node.
pub const NATS_STALL_BOUND: Duration = Duration::from_secs(10);

/// Commands (publishes, mostly) a client queues for its connection. Kept
/// small: while a server is slow or being failed over, at most this many
/// frames wait inside the client (and go out late, or are lost with the
/// connection); everything newer waits in a latest-wins slot instead.
pub const NATS_CLIENT_CAPACITY: usize = 16;

/// Messages a subscription holds before the client drops new ones (NATS
/// calls that a slow consumer; counted and logged). The receiver's network
/// task only checks and hands on each message, so it falls behind only
/// when starved of CPU; memory stays bounded by this many frames.
pub const NATS_SUBSCRIPTION_CAPACITY: usize = 256;

/// How long a stopping sender or publisher waits for its last frames to be
/// written to the server.
pub const NATS_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a publish may wait for room in the client's queue before the
/// frame is dropped (a server that stopped reading).
pub const NATS_PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);

/// The NATS clients' timeouts and capacities, each defaulting to the
/// constant of its name (`connect_timeout` to [`NATS_CONNECT_TIMEOUT`], and
/// so on); set on a [`NatsUrl`] with [`NatsUrl::with_limits`], they apply
/// to the publisher, source or sender made from it.
///
/// ```
/// use std::time::Duration;
/// use framecast_nats::{NatsLimits, NatsUrl};
///
/// let mut limits = NatsLimits::default();
/// limits.ping_interval = Duration::from_secs(1); // notice a hung server sooner
/// let url = "nats://127.0.0.1".parse::<NatsUrl>()?.with_limits(limits);
/// assert_eq!(url.limits().ping_interval, Duration::from_secs(1));
/// # Ok::<(), framecast_nats::NatsError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatsLimits {
    /// [`NATS_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
    /// [`NATS_PING_INTERVAL`].
    pub ping_interval: Duration,
    /// [`NATS_RECONNECT_DELAY`].
    pub reconnect_delay: Duration,
    /// [`NATS_MAX_RECONNECT_DELAY`].
    pub max_reconnect_delay: Duration,
    /// [`NATS_CLIENT_CAPACITY`].
    pub client_capacity: usize,
    /// [`NATS_SUBSCRIPTION_CAPACITY`].
    pub subscription_capacity: usize,
    /// [`NATS_PUBLISH_TIMEOUT`].
    pub publish_timeout: Duration,
    /// [`NATS_FLUSH_TIMEOUT`].
    pub flush_timeout: Duration,
}

impl Default for NatsLimits {
    fn default() -> Self {
        Self {
            connect_timeout: NATS_CONNECT_TIMEOUT,
            ping_interval: NATS_PING_INTERVAL,
            reconnect_delay: NATS_RECONNECT_DELAY,
            max_reconnect_delay: NATS_MAX_RECONNECT_DELAY,
            client_capacity: NATS_CLIENT_CAPACITY,
            subscription_capacity: NATS_SUBSCRIPTION_CAPACITY,
            publish_timeout: NATS_PUBLISH_TIMEOUT,
            flush_timeout: NATS_FLUSH_TIMEOUT,
        }
    }
}

impl NatsLimits {
    /// Checks that every duration and capacity is above zero.
    pub(crate) fn check(&self) -> Result<(), NatsError> {
        let durations = [
            self.connect_timeout,
            self.ping_interval,
            self.max_reconnect_delay,
            self.publish_timeout,
            self.flush_timeout,
        ];
        if durations.iter().any(Duration::is_zero)
            || self.client_capacity == 0
            || self.subscription_capacity == 0
        {
            return Err(NatsError::Limits(
                "timeouts, the ping interval, the longest reconnection delay and capacities \
                 must be above zero",
            ));
        }
        Ok(())
    }
}

/// Why a NATS publisher, source or sender cannot work.
///
/// No variant shows a password or a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// The `nats://` address cannot be used: what is wrong, in words (our
    /// own parser's, or the client's address parser's message).
    #[error("bad NATS address: {0}")]
    Url(String),
    /// A subject is not valid for its use.
    #[error("bad NATS subject {subject:?}: {reason}")]
    Subject {
        /// The subject.
        subject: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The credentials cannot be used.
    #[error("bad NATS credentials: {0}")]
    Credentials(&'static str),
    /// A [`NatsLimits`] cannot be used.
    #[error("bad NATS limits: {0}")]
    Limits(&'static str),
    /// The token file cannot be read.
    #[error("cannot read the NATS token file {}", path.display())]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why (the I/O error; never the token).
        source: std::io::Error,
    },
    /// The token file is larger than a token can be.
    #[error(
        "the NATS token file {} holds {len} bytes; a token is at most {max}",
        path.display()
    )]
    TokenFileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// [`MAX_TOKEN_LEN`].
        max: usize,
    },
    /// No server of the list could be connected to (or logged in to).
    #[error("cannot connect to the NATS servers {servers}: {reason}")]
    Connect {
        /// The list, without credentials.
        servers: String,
        /// The last failure, as the NATS client words it. Kept as text:
        /// the client's error repeats its kind in its own source
        /// ("authorization violation: nats: authorization violation"), so
        /// it is said once here rather than chained.
        reason: String,
        /// Whether a server refused the credentials (or their absence).
        authorization: bool,
    },
    /// Subscribing failed.
    #[error("cannot subscribe to {subject}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// The NATS client's error (subscribing, or flushing the
        /// subscription to the server).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A frame is larger than the server accepts.
    #[error("a frame of {len} bytes exceeds the NATS server's max_payload of {max_payload} bytes")]
    PayloadTooLarge {
        /// The frame's `Video` message, in bytes.
        len: usize,
        /// The server's limit.
        max_payload: usize,
    },
    /// The receiver would receive what it publishes.
    #[error(
        "publishing under {prefix} would feed the subscription {subscription}: frames would \
         go round in a loop"
    )]
    Loop {
        /// The publishing prefix.
        prefix: String,
        /// The subscription.
        subscription: String,
    },
    /// The receiver has stopped.
    #[error("the receiver has stopped")]
    Stopped,
}

impl NatsError {
    /// Whether a server refused the client's credentials, or asked for
    /// some.
    pub fn is_authorization(&self) -> bool {
        matches!(
            self,
            Self::Connect {
                authorization: true,
                ..
            }
        )
    }
}

/// Checks that a receiver taking streams from `from` and publishing to
/// `publish` would not receive what it publishes: a subject
/// `PREFIX.<name>` under `publish`'s prefix (or [`DEFAULT_PREFIX`]) must
/// not match `from`'s subscription (or [`DEFAULT_SUBSCRIPTION`]). Such a
/// receiver would publish every frame again, for ever. The servers are not
/// compared: two lists may name one cluster.
///
/// ```
/// use framecast_nats::{NatsUrl, check_no_loop};
///
/// let from: NatsUrl = "nats://127.0.0.1/site1.>".parse()?;
/// assert!(check_no_loop(&"nats://127.0.0.1".parse()?, &from).is_ok());
/// assert!(check_no_loop(&"nats://127.0.0.1/site1".parse()?, &from).is_err());
/// # Ok::<(), framecast_nats::NatsError>(())
/// ```
///
/// # Errors
///
/// [`NatsError::Loop`] naming both.
pub fn check_no_loop(publish: &NatsUrl, from: &NatsUrl) -> Result<(), NatsError> {
    let prefix = publish.subject().unwrap_or(DEFAULT_PREFIX);
    let subscription = from.subject().unwrap_or(DEFAULT_SUBSCRIPTION);
    if publishes_into(prefix, subscription) {
        return Err(NatsError::Loop {
            prefix: prefix.to_owned(),
            subscription: subscription.to_owned(),
        });
    }
    Ok(())
}

/// Locks `m`, carrying on if a panicking task poisoned it: every guarded
/// value stays consistent between statements.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `task` on `runtime` and waits for its result on this thread (which
/// must not be one of the runtime's). `None` if the runtime dropped it.
pub(crate) fn run_on<T: Send + 'static>(
    runtime: &tokio::runtime::Handle,
    task: impl std::future::Future<Output = T> + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = tx.send(task.await);
    });
    rx.recv().ok()
}
