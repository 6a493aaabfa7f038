//! [`Link`]: one NATS client with framecast's settings (timeouts,
//! capacities, failover order, reconnecting for ever), what happens to it
//! in the log, and its counters.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::{Client, ConnectErrorKind, ConnectOptions, Event, ServerAddr, connection::State};
use framecast_net::Backoff;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{NatsError, NatsLimits, NatsUrl};

/// How often a repeated NATS warning (a slow consumer, a server or client
/// error) is written at most; the lines left out are counted into the next.
pub(crate) const NATS_LOG_EVERY: Duration = Duration::from_secs(5);

/// Client events waiting to be logged; beyond, they are counted only.
const EVENT_BACKLOG: usize = 64;

/// What a client is for: its name on the server and in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A receiver publishing what it accepts.
    Publisher,
    /// A receiver taking streams from a subscription.
    Source,
    /// A sender publishing its frames.
    Sender,
}

impl Role {
    /// What the client does, for the log.
    fn doing(self) -> &'static str {
        match self {
            Self::Publisher => "publishing to NATS",
            Self::Source => "receiving from NATS",
            Self::Sender => "sending to NATS",
        }
    }

    fn client_name(self) -> &'static str {
        match self {
            Self::Publisher => "framecast receiver (publishing)",
            Self::Source => "framecast receiver (subscribing)",
            Self::Sender => "framecast sender",
        }
    }
}

/// The delay before reconnection attempt `attempts` (1 for the first after
/// a loss): none, then the retry ladder from `first` doubling up to `max`
/// (no jitter: the list's servers are tried in turn, and the cluster
/// spreads its clients).
pub(crate) fn reconnect_delay(attempts: usize, first: Duration, max: Duration) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let rung = u32::try_from(attempts - 2).unwrap_or(u32::MAX);
    // A first delay above the cap is the cap.
    Backoff::new(first.min(max), max).ceiling(rung)
}

/// Counters bumped from the client's event callback.
#[derive(Debug, Default)]
struct Counters {
    connects: AtomicU64,
    disconnects: AtomicU64,
    slow_consumers: AtomicU64,
}

/// A connected NATS client. Dropping it ends its log task; the client
/// itself closes when its last clone is dropped.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) client: Client,
    pub(crate) limits: NatsLimits,
    counters: Arc<Counters>,
    configured: Option<IpAddr>,
    _monitor: DropGuard,
}

impl Link {
    /// Connects to the first server of `url`'s list that answers (each
    /// within its connect timeout), with its credentials and limits; must
    /// run on the runtime that will carry the client.
    pub(crate) async fn connect(url: &NatsUrl, role: Role) -> Result<Self, NatsError> {
        Self::connect_with(url, role, false).await
    }

    /// Connects as [`connect`](Self::connect) does; but when no server of
    /// the list answers (none is up yet), returns at once, not connected,
    /// and keeps trying in the background with the delays it uses after a
    /// loss, for ever, as the client does once it has been connected. A
    /// server that answers and refuses (credentials) is still an error: no
    /// amount of waiting fixes that.
    pub(crate) async fn connect_or_keep_trying(
        url: &NatsUrl,
        role: Role,
    ) -> Result<Self, NatsError> {
        match Self::connect_with(url, role, false).await {
            Err(NatsError::Connect {
                servers,
                reason,
                authorization: false,
            }) => {
                tracing::warn!(
                    "{}: no NATS server answers at {servers} ({reason}); trying again in the \
                     background until one does",
                    role.doing()
                );
                Self::connect_with(url, role, true).await
            }
            other => other,
        }
    }

    /// With `in_background`, the first connection is made by the client's
    /// own task (async-nats' `retry_on_initial_connect`): the client is
    /// returned at once, and commands given meanwhile (a subscription) are
    /// sent when it connects.
    async fn connect_with(
        url: &NatsUrl,
        role: Role,
        in_background: bool,
    ) -> Result<Self, NatsError> {
        let limits = url.limits();
        limits.check()?;
        let servers = url.servers().join(",");
        let addrs = url
            .servers
            .iter()
            .map(|s| ServerAddr::from_str(&format!("nats://{s}")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| NatsError::Url(e.to_string()))?;
        let counters = Arc::new(Counters::default());
        let (tx, rx) = mpsc::channel(EVENT_BACKLOG);
        let in_callback = Arc::clone(&counters);
        let mut options = ConnectOptions::new()
            .name(role.client_name())
            .connection_timeout(limits.connect_timeout)
            .ping_interval(limits.ping_interval)
            .client_capacity(limits.client_capacity)
            .subscription_capacity(limits.subscription_capacity)
            // The list's order is the operator's preference.
            .retain_servers_order()
            .max_reconnects(None)
            .reconnect_delay_callback(move |attempts| {
                reconnect_delay(attempts, limits.reconnect_delay, limits.max_reconnect_delay)
            })
            .event_callback(move |event| {
                let counters = Arc::clone(&in_callback);
                let tx = tx.clone();
                async move {
                    let counter = match &event {
                        Event::Connected => Some(&counters.connects),
                        Event::Disconnected => Some(&counters.disconnects),
                        Event::SlowConsumer(_) => Some(&counters.slow_consumers),
                        _ => None,
                    };
                    if let Some(c) = counter {
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                    // Beyond the backlog an event is counted, not logged.
                    let _ = tx.try_send(event);
                }
            });
        if let Some(user) = &url.user {
            let password = url
                .password
                .as_ref()
                .map(|p| p.0.clone())
                .unwrap_or_default();
            options = options.user_and_password(user.clone(), password);
        }
        if let Some(token) = &url.token {
            options = options.token(token.0.clone());
        }
        if in_background {
            options = options.retry_on_initial_connect();
        }
        let client = options.connect(addrs).await.map_err(|e| {
            let authorization = matches!(
                e.kind(),
                ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication
            );
            NatsError::Connect {
                servers,
                // The client's own wording repeats the kind in its
                // source ("authorization violation: nats: authorization
                // violation"): said once here.
                reason: if authorization {
                    e.kind().to_string()
                } else {
                    e.to_string()
                },
                authorization,
            }
        })?;
        let stop = CancellationToken::new();
        tokio::spawn(monitor(
            client.clone(),
            role,
            rx,
            stop.clone(),
            limits.subscription_capacity,
        ));
        Ok(Self {
            client,
            limits,
            counters,
            configured: url
                .servers
                .first()
                .and_then(|s| s.host.parse::<IpAddr>().ok()),
            _monitor: stop.drop_guard(),
        })
    }

    /// Whether the client is connected now.
    pub(crate) fn is_connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// The server's limit on one message, as it announced it.
    pub(crate) fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }

    /// The address of the server the client is on, as well as it is known.
    pub(crate) fn peer(&self) -> SocketAddr {
        let info = self.client.server_info();
        let announced = info
            .host
            .parse::<IpAddr>()
            .ok()
            .filter(|ip| !ip.is_unspecified());
        let ip = announced
            .or(self.configured)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        SocketAddr::new(ip, info.port)
    }

    /// Connections made, the first included.
    pub(crate) fn connects(&self) -> u64 {
        self.counters.connects.load(Ordering::Relaxed)
    }

    /// Connections lost.
    pub(crate) fn disconnects(&self) -> u64 {
        self.counters.disconnects.load(Ordering::Relaxed)
    }

    /// Times a subscription overflowed and the client dropped a message.
    pub(crate) fn slow_consumers(&self) -> u64 {
        self.counters.slow_consumers.load(Ordering::Relaxed)
    }
}

/// Where the client is, in words.
fn server_words(client: &Client) -> String {
    let info = client.server_info();
    if info.server_name.is_empty() || info.server_name == info.server_id {
        format!("{}:{}", info.host, info.port)
    } else {
        format!("{}:{} ({})", info.host, info.port, info.server_name)
    }
}

/// Writes the client's events to the log until `stop`: connections at
/// info, losses and errors at warn, repeated warnings at most once per
/// [`NATS_LOG_EVERY`] per kind.
async fn monitor(
    client: Client,
    role: Role,
    mut events: mpsc::Receiver<Event>,
    stop: CancellationToken,
    subscription_capacity: usize,
) {
    let what = role.doing();
    let mut last_server = String::new();
    // Per kind: when a line was last written, and how many left out since.
    let mut throttle: [(Option<Instant>, u64); 4] = [(None, 0); 4];
    let mut admit = |kind: usize| -> Option<u64> {
        let (last, left_out) = &mut throttle[kind];
        if last.is_some_and(|t| t.elapsed() < NATS_LOG_EVERY) {
            *left_out += 1;
            return None;
        }
        *last = Some(Instant::now());
        Some(std::mem::take(left_out))
    };
    let more = |n: u64| {
        if n > 0 {
            format!(" ({n} similar lines left out)")
        } else {
            String::new()
        }
    };
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => break,
            event = events.recv() => match event {
                Some(event) => event,
                None => break,
            },
        };
        match event {
            Event::Connected => {
                last_server = server_words(&client);
                tracing::info!("{what}: connected to the NATS server {last_server}");
            }
            Event::Disconnected => tracing::warn!(
                "{what}: lost the NATS server {last_server}; trying the next server of the list"
            ),
            Event::LameDuckMode => tracing::info!(
                "{what}: the NATS server {last_server} is shutting down (lame duck mode)"
            ),
            Event::SlowConsumer(_) => {
                if let Some(n) = admit(0) {
                    tracing::warn!(
                        "{what}: messages dropped: the subscription fell more than {} \
                         messages behind{}",
                        subscription_capacity,
                        more(n)
                    );
                }
            }
            Event::ServerError(e) => {
                if let Some(n) = admit(1) {
                    tracing::warn!("{what}: the NATS server says: {e}{}", more(n));
                }
            }
            Event::ClientError(e) => {
                if let Some(n) = admit(2) {
                    tracing::warn!("{what}: {e}{}", more(n));
                }
            }
            Event::Draining | Event::Closed => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnection_delays_start_at_once_and_are_capped() {
        use super::super::{
            NATS_CONNECT_TIMEOUT, NATS_FAILOVER_BOUND, NATS_MAX_RECONNECT_DELAY,
            NATS_PING_INTERVAL, NATS_RECONNECT_DELAY, NATS_STALL_BOUND,
        };
        let delay = |a| reconnect_delay(a, NATS_RECONNECT_DELAY, NATS_MAX_RECONNECT_DELAY);
        let delays: Vec<u64> = (1..=8).map(|a| delay(a).as_millis() as u64).collect();
        assert_eq!(delays, [0, 100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(delay(usize::MAX), NATS_MAX_RECONNECT_DELAY);
        // Three servers, the first dead: at most two delays before a live one.
        let worst: Duration = (1..=3).map(delay).sum();
        assert!(worst < NATS_FAILOVER_BOUND);
        // A hung server: three pings, one more try of it, one delay.
        let hung = 3 * NATS_PING_INTERVAL + NATS_CONNECT_TIMEOUT + delay(2);
        assert!(hung < NATS_STALL_BOUND);
        assert!(NATS_STALL_BOUND <= framecast_stream::limits::DEFAULT_IDLE_TIMEOUT);
    }

    #[test]
    fn limits_above_zero_only() {
        assert!(NatsLimits::default().check().is_ok());
        let l = NatsLimits {
            ping_interval: Duration::ZERO,
            ..NatsLimits::default()
        };
        assert!(l.check().is_err());
        let l = NatsLimits {
            subscription_capacity: 0,
            ..NatsLimits::default()
        };
        assert!(l.check().is_err());
    }
}
