//! Throwaway NATS servers for tests (feature `nats`): Debian's
//! `nats-server`, each with a config file in a temporary directory, on
//! loopback ports the server picks itself (read back from its log, so no
//! other process can take them between picking and binding); stopped (by
//! PID) when dropped, and by a watcher process if the test process dies
//! first. The NATS crate's tests and example and
//! the binary's tests start theirs here.
//!
//! The binary comes from `FRAMECAST_NATS_SERVER`, else `PATH`, else
//! `/usr/sbin` and `/usr/bin`. When it is missing the tests that need it
//! skip with a message, or fail when `FRAMECAST_CI=1`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::tools::skip;

/// Long enough for a loaded 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What to put in a server's config besides its ports.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `max_payload` in bytes (the server's default is 1 MiB; 2.9 has no
    /// command-line flag for it).
    pub max_payload: Option<u64>,
    /// A user and password every client must give.
    pub user: Option<(String, String)>,
    /// A token every client must give.
    pub token: Option<String>,
}

/// One `nats-server` process.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    watcher: Option<Child>,
    /// The client port.
    pub port: u16,
    /// The monitoring (HTTP) port.
    pub http_port: u16,
    /// The cluster (route) port, for a node of a cluster.
    pub cluster_port: Option<u16>,
    dir: tempfile::TempDir,
    stopped: bool,
}

/// The port of the address logged after `prefix` (`... on 127.0.0.1:4222`).
fn logged_port(log: &str, prefix: &str) -> u16 {
    log.lines()
        .find_map(|l| l.split_once(prefix))
        .and_then(|(_, addr)| addr.trim().rsplit(':').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix:?} in the nats-server log:\n{log}"))
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `nats-server` binary, or `None` (after saying why) when the test
/// should skip; under `FRAMECAST_CI=1` a missing binary fails the test.
pub fn binary(test: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FRAMECAST_NATS_SERVER") {
        return Some(PathBuf::from(path));
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin".into(), "/usr/bin".into()]);
    if let Some(found) = dirs
        .into_iter()
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
    {
        return Some(found);
    }
    skip(
        test,
        "`nats-server` is not installed (scripts/setup.sh installs Debian's)",
    );
    None
}

impl NatsServer {
    /// One server with `config`, on a client port it picks; `None` when
    /// skipped.
    pub fn start(test: &str, config: &Config) -> Option<Self> {
        let bin = binary(test)?;
        let mut server = Self::spawn(&bin, config, None, None);
        server.wait_ready();
        Some(server)
    }

    /// One server with `config` on `port` (picked earlier, e.g. for a
    /// client that starts before the server); `None` when skipped.
    pub fn start_on(test: &str, config: &Config, port: u16) -> Option<Self> {
        let bin = binary(test)?;
        let mut server = Self::spawn(&bin, config, None, Some(port));
        server.wait_ready();
        Some(server)
    }

    /// `n` servers forming one cluster (every node routes to every other);
    /// returns once every route is up. `None` when skipped.
    pub fn cluster(test: &str, n: usize, config: &Config) -> Option<Vec<Self>> {
        let bin = binary(test)?;
        let routes: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut nodes: Vec<Self> = routes
            .iter()
            .map(|&port| Self::spawn(&bin, config, Some((port, &routes)), None))
            .collect();
        for node in &mut nodes {
            node.wait_ready();
        }
        let deadline = Instant::now() + START_TIMEOUT;
        for node in &nodes {
            while node.num_routes() < n - 1 {
                assert!(
                    Instant::now() < deadline,
                    "the cluster's routes did not come up:\n{}",
                    node.log()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Some(nodes)
    }

    /// Starts a server on `port`, or on one it picks (`-1` in its
    /// configuration), its monitoring port always its own pick; the ports
    /// are known once [`wait_ready`](Self::wait_ready) has read its log.
    fn spawn(
        bin: &Path,
        config: &Config,
        cluster: Option<(u16, &[u16])>,
        port: Option<u16>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listen = port.map_or("-1".to_owned(), |p| p.to_string());
        let mut text = format!("listen: 127.0.0.1:{listen}\nhttp: 127.0.0.1:-1\n");
        if let Some(max) = config.max_payload {
            text.push_str(&format!("max_payload: {max}\n"));
        }
        match (&config.user, &config.token) {
            (Some((user, password)), _) => text.push_str(&format!(
                "authorization {{\n  user: \"{user}\"\n  password: \"{password}\"\n}}\n"
            )),
            (None, Some(token)) => {
                text.push_str(&format!("authorization {{\n  token: \"{token}\"\n}}\n"))
            }
            (None, None) => {}
        }
        if let Some((own, all)) = cluster {
            let routes: Vec<String> = all
                .iter()
                .filter(|&&p| p != own)
                .map(|p| format!("nats-route://127.0.0.1:{p}"))
                .collect();
            text.push_str(&format!(
                "cluster {{\n  name: framecast-test\n  listen: 127.0.0.1:{own}\n  routes: [{}]\n}}\n",
                routes.join(", ")
            ));
        }
        let conf = dir.path().join("nats.conf");
        std::fs::write(&conf, text).unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        // Outlives a crashed test: kills the server once this process is gone.
        let watcher = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; kill -9 {server} \
                     2>/dev/null",
                    me = std::process::id(),
                    server = child.id()
                ),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self {
            child: Some(child),
            watcher: Some(watcher),
            port: port.unwrap_or(0),
            http_port: 0,
            cluster_port: cluster.map(|(own, _)| own),
            dir,
            stopped: false,
        }
    }

    /// Waits until the server is ready and answers on its monitoring
    /// port, and learns the ports it listens on from its log.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let log = self.log();
            if log.contains("Server is ready") {
                self.http_port = logged_port(&log, "Starting http monitor on ");
                self.port = logged_port(&log, "Listening for client connections on ");
                if self.http_get("/healthz").is_some() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "nats-server did not start:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A GET on the monitoring port; the body, or `None`.
    pub fn http_get(&self, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.http_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
    }

    fn num_routes(&self) -> usize {
        self.http_get("/routez")
            .and_then(|body| {
                let v: serde_json::Value = serde_json::from_str(&body).ok()?;
                v["num_routes"].as_u64()
            })
            .unwrap_or(0) as usize
    }

    /// Clients connected now.
    pub fn num_clients(&self) -> usize {
        self.http_get("/connz")
            .and_then(|body| {
                let v: serde_json::Value = serde_json::from_str(&body).ok()?;
                v["num_connections"].as_u64()
            })
            .unwrap_or(0) as usize
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// The server's process id (0 once killed).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Kills the server at once (SIGKILL, by PID): its clients' connections
    /// are reset.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open but nothing is
    /// read or answered, as with a server that hangs.
    pub fn freeze(&mut self) {
        self.signal("-STOP");
        self.stopped = true;
    }

    /// Lets a frozen server go on (SIGCONT).
    pub fn thaw(&mut self) {
        self.signal("-CONT");
        self.stopped = false;
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} {}", self.pid());
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if self.stopped {
            self.signal("-CONT");
        }
        self.kill();
        if let Some(mut watcher) = self.watcher.take() {
            let _ = watcher.kill();
            let _ = watcher.wait();
        }
    }
}
