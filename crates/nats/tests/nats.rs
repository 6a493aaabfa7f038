//! Frames over NATS, against real `nats-server` processes on loopback: a
//! receiver publishing what it accepts, a receiver taking its streams from
//! a subscription, a sender publishing directly, and what happens when the
//! server is slow, refuses a frame, or wants credentials.

use std::time::{Duration, Instant};

use bytes::Bytes;
use framecast_capture::{SourceOptions, SourceSpec, open_source};
use framecast_nats::{NatsError, NatsSource, NatsTransport, NatsUrl, Publisher};
use framecast_stream::{
    Destination, ReceiverBuilder, Retry, SenderBuilder, StreamError, StreamEvent, TcpDestination,
};
use framecast_test_support::nats::{Config, NatsServer};

const TIMEOUT: Duration = Duration::from_secs(60);

fn receiver() -> ReceiverBuilder {
    ReceiverBuilder::new("127.0.0.1:0".parse().unwrap()).workers(1)
}

fn pattern(fps: u32) -> Box<dyn framecast_capture::FrameSource> {
    open_source(
        &SourceSpec::Pattern,
        &SourceOptions::new(160, 120).with_fps(fps),
    )
    .unwrap()
}

/// A sender's destination: publishing to `url`.
fn nats_to(url: NatsUrl) -> Destination {
    Destination::transport(NatsTransport::new(url))
}

fn url(s: &str) -> NatsUrl {
    s.parse().unwrap()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Publishes `payloads` to `subject` with a plain NATS client.
fn publish_raw(server: &NatsServer, subject: &str, payloads: Vec<Bytes>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = async_nats::connect(server.addr()).await.unwrap();
        for p in payloads {
            client.publish(subject.to_owned(), p).await.unwrap();
        }
        client.flush().await.unwrap();
    });
}

fn video(width: u32, height: u32, sequence: u64) -> Bytes {
    declared(width, height, (width, height), sequence)
}

/// A `Video` carrying a `width`x`height` JPEG that says it is `size`.
fn declared(width: u32, height: u32, size: (u32, u32), sequence: u64) -> Bytes {
    use prost::Message;
    let mut jpeg = Vec::new();
    framecast_codec::SenderPipeline::new(
        framecast_codec::SenderConfig::new(width, height).with_quality(80),
    )
    .unwrap()
    .encode(
        framecast_codec::ImageBuf::new(width, height, framecast_codec::PixelFormat::Rgb8)
            .as_image(),
        &mut jpeg,
    )
    .unwrap();
    framecast_proto::video::Video {
        video_data: jpeg.into(),
        width: size.0,
        height: size.1,
        sequence,
        ..Default::default()
    }
    .encode_to_vec()
    .into()
}

/// Every frame's message bytes, by sequence, until `n` frames came.
fn collect(events: &mut tokio::sync::broadcast::Receiver<StreamEvent>, n: usize) -> Vec<Bytes> {
    let deadline = Instant::now() + TIMEOUT;
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} frames",
            out.len()
        );
        match events.try_recv() {
            Ok(StreamEvent::Frame(f)) => out.push(f.message().clone()),
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    out
}

#[test]
fn a_receiver_publishes_what_it_accepts_and_another_shows_it_byte_for_byte() {
    let Some(server) = NatsServer::start("publish_and_subscribe", &Config::default()) else {
        return;
    };
    let camera_side = receiver().start().unwrap();
    let publisher = Publisher::start(&camera_side, &url(&server.url())).unwrap();
    assert_eq!(publisher.subject_for("door cam"), "framecast.door~20cam");
    let viewer = receiver().start().unwrap();
    let source =
        NatsSource::start(&viewer, &url(&format!("{}/framecast.>", server.url()))).unwrap();
    assert!(source.matches("framecast.door~20cam"));
    let mut sent_events = camera_side.subscribe();
    let mut seen_events = viewer.subscribe();

    let sender = SenderBuilder::new(camera_side.local_addr().to_string(), pattern(30))
        .size(128, 128)
        .name("door cam")
        .count(20)
        .start()
        .unwrap();
    assert_eq!(sender.wait().unwrap().sent, 20);
    let sent = collect(&mut sent_events, 20);
    // Every frame the workers showed is published or dropped for NATS;
    // the workers' own drops (latest wins) never reach the publisher.
    wait_for("every frame published", || {
        let s = publisher.stats();
        s.published + s.dropped + camera_side.stats().dropped == 20
    });
    let published = publisher.stats().published as usize;
    assert!(published > 0, "{:?}", publisher.stats());
    let seen = collect(&mut seen_events, published);
    // The Video messages went through NATS untouched, in order.
    let mut rest = sent.iter();
    for message in &seen {
        assert!(
            rest.any(|m| m == message),
            "a message arrived changed or out of order"
        );
    }

    let streams = viewer.streams();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].name(), "door cam");
    assert_eq!(
        streams[0].peer().to_string(),
        server.addr(),
        "the stream comes from the NATS server"
    );
    let stats = viewer.shutdown().unwrap();
    assert_eq!(stats.received, published as u64);
    assert_eq!(stats.corrupt, 0);
    assert_eq!(stats.per_stream[0].name, "door cam");
    assert_eq!(source.stats().messages, published as u64);
    let publisher_stats = publisher.stats();
    camera_side.shutdown().unwrap();
    assert!(publisher_stats.connected && publisher_stats.connections == 1);
}

#[test]
fn subjects_are_checked_counted_refused_and_timed_out_like_senders() {
    let Some(server) = NatsServer::start("subjects_like_senders", &Config::default()) else {
        return;
    };
    let viewer = receiver()
        .max_clients(1)
        .idle_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let source = NatsSource::start(&viewer, &url(&format!("{}/cams.*", server.url()))).unwrap();

    // A good frame, garbage, a picture that is not the size it declares:
    // the stream is opened by the first and goes on after the bad ones.
    publish_raw(
        &server,
        "cams.door",
        vec![
            video(32, 16, 1),
            Bytes::from_static(b"not a Video"),
            declared(32, 32, (64, 64), 2),
            video(32, 16, 3),
        ],
    );
    // Received is counted on arrival, the verdicts when the workers are
    // done with each frame: wait for all four to be settled.
    wait_for("four messages, each settled", || {
        let s = viewer.stats();
        s.received == 4 && s.corrupt + s.frames + s.dropped == 4
    });
    let s = viewer.stats();
    assert_eq!(
        (s.corrupt, s.streams, s.frames + s.dropped),
        (2, 1, 2),
        "{s:?}"
    );
    assert_eq!(viewer.streams()[0].name(), "door");

    // max_clients is 1: another subject is refused while "door" is open.
    publish_raw(&server, "cams.yard", vec![video(16, 16, 1)]);
    wait_for("the refusal", || source.stats().refused >= 1);
    assert_eq!(viewer.stats().refused, 1);
    assert_eq!(viewer.stats().streams, 1);

    // Silence ends "door" after the idle timeout; then "yard" gets in.
    wait_for("the idle timeout", || viewer.stats().timeouts.idle == 1);
    wait_for("the place freed", || viewer.stats().active_streams == 0);
    std::thread::sleep(Duration::from_millis(1100)); // busy_retry_after
    publish_raw(&server, "cams.yard", vec![video(16, 16, 2)]);
    wait_for("the second stream", || viewer.stats().streams == 2);
    let stats = viewer.shutdown().unwrap();
    let names: Vec<&str> = stats.per_stream.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["door", "yard"]);
    assert_eq!(stats.received, 5);
}

#[test]
fn a_frozen_server_costs_frames_for_nats_only() {
    let Some(mut server) = NatsServer::start("frozen_server", &Config::default()) else {
        return;
    };
    let camera_side = receiver().start().unwrap();
    let publisher = Publisher::start(&camera_side, &url(&server.url())).unwrap();
    let sender = SenderBuilder::new(
        TcpDestination::new(camera_side.local_addr().to_string()).retry(Retry::Forever),
        open_source(
            &SourceSpec::Pattern,
            &SourceOptions::new(640, 480).with_fps(0),
        )
        .unwrap(),
    )
    .size(640, 480)
    .quality(100)
    .start()
    .unwrap();
    wait_for("frames published", || publisher.stats().published > 5);

    // The server stops reading: the client's buffers fill, then the
    // publisher's slot drops frames; the receiver is not held up.
    server.freeze();
    wait_for("frames dropped for NATS", || publisher.stats().dropped > 20);
    let before = camera_side.stats().received;
    let published = publisher.stats().published;
    wait_for("the receiver going on", || {
        camera_side.stats().received > before + 20
    });
    assert!(
        publisher.stats().published <= published + 1,
        "nothing more can go out to a frozen server"
    );

    // Back: publishing resumes.
    server.thaw();
    let published = publisher.stats().published;
    wait_for("publishing again", || {
        publisher.stats().published > published + 5
    });
    sender.shutdown().unwrap();
    let stats = camera_side.shutdown().unwrap();
    let p = publisher.stats();
    assert!(
        p.published + p.dropped + p.too_large <= stats.received,
        "{p:?} {stats:?}"
    );
    assert_eq!(stats.corrupt, 0);
}

#[test]
fn a_sender_refuses_frames_over_the_servers_max_payload_naming_both_sizes() {
    let config = Config {
        max_payload: Some(2048),
        ..Config::default()
    };
    let Some(server) = NatsServer::start("max_payload", &config) else {
        return;
    };
    let sender = SenderBuilder::new(
        nats_to(url(&format!("{}/cams.big", server.url()))),
        pattern(0),
    )
    .size(128, 128)
    .quality(95)
    .start()
    .unwrap();
    let err = sender.wait().unwrap_err();
    // The transport's own error, inside the sender's.
    let nats = match &err {
        StreamError::Transport(e) => e.downcast_ref::<NatsError>(),
        _ => None,
    };
    match nats {
        Some(NatsError::PayloadTooLarge { len, max_payload }) => {
            assert_eq!(*max_payload, 2048);
            assert!(*len > 2048);
            let text = err.to_string();
            assert!(
                text.contains(&len.to_string()) && text.contains("2048"),
                "{text}"
            );
        }
        _ => panic!("{err:?}"),
    }

    // A receiver's publisher skips such frames and counts them, without
    // stopping.
    let camera_side = receiver().start().unwrap();
    let publisher = Publisher::start(&camera_side, &url(&server.url())).unwrap();
    let sender = SenderBuilder::new(camera_side.local_addr().to_string(), pattern(0))
        .size(128, 128)
        .count(3)
        .start()
        .unwrap();
    sender.wait().unwrap();
    // Each frame is either found too large or, when the next one came
    // first, replaced in its slot (latest wins); none is published.
    wait_for("three frames accounted for", || {
        let s = publisher.stats();
        s.too_large + s.dropped + camera_side.stats().dropped == 3
    });
    let s = publisher.stats();
    assert!(s.too_large >= 1 && s.published == 0, "{s:?}");
    assert_eq!(camera_side.shutdown().unwrap().received, 3);
}

#[test]
fn a_sender_publishes_to_framecast_and_its_name_by_default() {
    let Some(server) = NatsServer::start("sender_default_subject", &Config::default()) else {
        return;
    };
    let viewer = receiver().start().unwrap();
    let _source = NatsSource::start(&viewer, &url(&server.url())).unwrap();
    let sender = SenderBuilder::new(nats_to(url(&server.url())), pattern(30))
        .size(64, 64)
        .name("yard 2")
        .count(10)
        .start()
        .unwrap();
    let sent = sender.wait().unwrap();
    assert_eq!((sent.sent, sent.sessions, sent.reconnects), (10, 1, 0));
    wait_for("ten frames", || viewer.stats().received == 10);
    assert_eq!(viewer.streams()[0].name(), "yard 2");
    let stats = viewer.shutdown().unwrap();
    assert_eq!((stats.frames + stats.dropped, stats.corrupt), (10, 0));

    // A sender with neither a subject nor a name cannot choose a subject.
    let e = SenderBuilder::new(nats_to(url(&server.url())), pattern(30))
        .start()
        .unwrap_err();
    assert!(matches!(e, StreamError::Config { what: "name", .. }), "{e}");
}

#[test]
fn credentials_are_required_and_never_shown() {
    let config = Config {
        token: Some("t0ken-for-tests".into()),
        ..Config::default()
    };
    let Some(server) = NatsServer::start("credentials", &config) else {
        return;
    };
    let viewer = receiver().start().unwrap();
    let e = NatsSource::start(&viewer, &url(&server.url())).unwrap_err();
    assert!(e.is_authorization(), "{e}");
    let wrong = url(&server.url()).with_token("wrong-token").unwrap();
    let e = NatsSource::start(&viewer, &wrong).unwrap_err();
    assert!(e.is_authorization(), "{e}");
    assert!(!e.to_string().contains("wrong-token"), "{e}");
    let right = url(&server.url()).with_token("t0ken-for-tests").unwrap();
    assert!(!format!("{right:?} {right}").contains("t0ken"));
    NatsSource::start(&viewer, &right).unwrap();

    // Nothing listens on this port: no error, since waiting can fix it. It
    // starts not connected and keeps trying (the apps' test
    // `nats_server_started_late` starts the server later).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = Publisher::start(&viewer, &url(&format!("nats://127.0.0.1:{port}"))).unwrap();
    assert!(!p.stats().connected);
    let s = NatsSource::start(&viewer, &url(&format!("nats://127.0.0.1:{port}"))).unwrap();
    assert!(!s.stats().connected);
    viewer.shutdown().unwrap();
}

/// When each stream's first frame captured after `since` reached `events`,
/// by stream name; waits until `names` all have one.
fn first_fresh_frames(
    events: &mut tokio::sync::broadcast::Receiver<StreamEvent>,
    names: &[&str],
    since_us: u64,
) -> Vec<Instant> {
    let deadline = Instant::now() + TIMEOUT;
    let mut seen: Vec<Option<Instant>> = vec![None; names.len()];
    while seen.iter().any(Option::is_none) {
        assert!(
            Instant::now() < deadline,
            "no fresh frame from {:?}",
            names
                .iter()
                .zip(&seen)
                .filter(|(_, s)| s.is_none())
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
        );
        match events.try_recv() {
            Ok(StreamEvent::Frame(f)) if f.capture_time_us().is_some_and(|t| t > since_us) => {
                if let Some(i) = names.iter().position(|n| *n == f.name()) {
                    seen[i].get_or_insert(f.received());
                }
            }
            Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    seen.into_iter().flatten().collect()
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// A 3-node cluster on loopback. Into node A: a sender publishing directly
/// and a receiver publishing what a TCP sender gives it (each with the list
/// A, B, C). Receivers subscribed on B and on C get both streams. Node A
/// is then killed (SIGKILL, by PID) mid-stream: both publishers fail over
/// to another node, and fresh frames reach both subscribers again within
/// `NATS_FAILOVER_BOUND` of the kill.
#[test]
fn a_cluster_carries_frames_and_survives_losing_the_publishers_node() {
    use framecast_nats::NATS_FAILOVER_BOUND;
    cluster_failover("cluster_failover", NATS_FAILOVER_BOUND, NatsServer::kill);
}

/// As above, but node A hangs (SIGSTOP: its connections stay open and
/// nothing is answered): the publishers give it up after their unanswered
/// pings and fail over within `NATS_STALL_BOUND`.
#[test]
fn a_cluster_survives_a_hung_node() {
    use framecast_nats::NATS_STALL_BOUND;
    cluster_failover("cluster_hung_node", NATS_STALL_BOUND, NatsServer::freeze);
}

fn cluster_failover(test: &str, bound: Duration, fault: fn(&mut NatsServer)) {
    let Some(mut nodes) = NatsServer::cluster(test, 3, &Config::default()) else {
        return;
    };
    let list = format!(
        "nats://{},{},{}",
        nodes[0].addr(),
        nodes[1].addr(),
        nodes[2].addr()
    );
    // Viewers on B and on C, each with its own node only: they must not
    // depend on A.
    let viewers: Vec<_> = [1, 2]
        .iter()
        .map(|&i| {
            let viewer = receiver().start().unwrap();
            let source = NatsSource::start(&viewer, &url(&nodes[i].url())).unwrap();
            (viewer, source)
        })
        .collect();
    let mut events: Vec<_> = viewers.iter().map(|(v, _)| v.subscribe()).collect();

    // Publisher 1: a sender publishing directly, to framecast.direct.
    let direct = SenderBuilder::new(nats_to(url(&list)), pattern(30))
        .size(64, 64)
        .name("direct")
        .start()
        .unwrap();
    // Publisher 2: a receiver publishing its TCP sender's frames, to
    // framecast.relayed.
    let camera_side = receiver().start().unwrap();
    let publisher = Publisher::start(&camera_side, &url(&list)).unwrap();
    let camera = SenderBuilder::new(
        TcpDestination::new(camera_side.local_addr().to_string()).retry(Retry::Forever),
        pattern(30),
    )
    .size(64, 64)
    .name("relayed")
    .start()
    .unwrap();
    wait_for("both publishers on node A", || nodes[0].num_clients() == 2);
    assert_eq!(nodes[1].num_clients() + nodes[2].num_clients(), 2);

    let names = ["direct", "relayed"];
    for e in &mut events {
        first_fresh_frames(e, &names, now_us());
    }

    // Node A goes away mid-stream.
    let fault_at = Instant::now();
    let fault_us = now_us();
    fault(&mut nodes[0]);
    let mut gaps = Vec::new();
    for (i, e) in events.iter_mut().enumerate() {
        for (name, at) in names.iter().zip(first_fresh_frames(e, &names, fault_us)) {
            let gap = at.saturating_duration_since(fault_at);
            eprintln!(
                "{test}: viewer on node {}: {name} again after {gap:?}",
                i + 2
            );
            gaps.push(gap);
        }
    }
    let worst = gaps.iter().max().copied().unwrap_or_default();
    assert!(
        worst < bound,
        "frames came back after {worst:?}, beyond the documented {bound:?}"
    );
    // Both publishers are now on B or C, and say they reconnected.
    assert_eq!(nodes[1].num_clients() + nodes[2].num_clients(), 4);
    let p = publisher.stats();
    assert!(
        p.connected && p.connections == 2 && p.disconnections == 1,
        "{p:?}"
    );
    let d = direct.stats();
    assert!(d.connected && d.reconnects == 1, "{d:?}");

    direct.shutdown().unwrap();
    camera.shutdown().unwrap();
    assert_eq!(camera_side.shutdown().unwrap().corrupt, 0);
    for (viewer, source) in viewers {
        let stats = viewer.shutdown().unwrap();
        let mut names: Vec<&str> = stats.per_stream.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names, ["direct", "relayed"], "{stats:?}");
        // Within both bounds the gap is shorter than the receivers'
        // default idle timeout: the viewers kept their two streams.
        assert_eq!(stats.streams, 2, "{stats:?}");
        assert_eq!(stats.corrupt, 0);
        let s = source.stats();
        assert_eq!(s.disconnections, 0, "the viewers' nodes stayed up: {s:?}");
    }
}

/// The node a viewer (`NatsSource`) is on is killed: the viewer fails over
/// along its list, subscribes again, and frames come back within
/// `NATS_FAILOVER_BOUND`, on the same stream.
#[test]
fn a_viewer_fails_over_when_its_node_dies() {
    use framecast_nats::NATS_FAILOVER_BOUND;

    let Some(mut nodes) = NatsServer::cluster("viewer_failover", 3, &Config::default()) else {
        return;
    };
    let viewer = receiver().start().unwrap();
    let list = format!("nats://{},{}", nodes[1].addr(), nodes[2].addr());
    let source = NatsSource::start(&viewer, &url(&list)).unwrap();
    let mut events = viewer.subscribe();
    let sender = SenderBuilder::new(nats_to(url(&nodes[0].url())), pattern(30))
        .size(64, 64)
        .name("door")
        .start()
        .unwrap();
    first_fresh_frames(&mut events, &["door"], now_us());
    assert_eq!(nodes[1].num_clients(), 1, "the viewer is on node B");

    let killed_at = Instant::now();
    let killed_us = now_us();
    nodes[1].kill();
    let at = first_fresh_frames(&mut events, &["door"], killed_us)[0];
    let gap = at.saturating_duration_since(killed_at);
    eprintln!("viewer_failover: door again after {gap:?}");
    assert!(gap < NATS_FAILOVER_BOUND, "{gap:?}");
    let s = source.stats();
    assert!(s.connected && s.disconnections == 1, "{s:?}");
    assert_eq!(nodes[2].num_clients(), 1, "the viewer is on node C now");

    sender.shutdown().unwrap();
    let stats = viewer.shutdown().unwrap();
    assert_eq!((stats.streams, stats.corrupt), (1, 0), "{stats:?}");
}
