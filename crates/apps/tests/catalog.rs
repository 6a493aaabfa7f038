//! `framecast catalog` end to end: the real binary as server and client,
//! persistence across a restart and across `kill -9`, a stock Python gRPC
//! client generated from the original `ecommerce.proto` (in plaintext, and
//! over TLS with a token), connection limits under idle-connection floods,
//! protected mode, and several servers on one throwaway PostgreSQL.

#[path = "../../catalog/tests/pg/mod.rs"]
mod pg;

use std::{
    io::{BufRead, BufReader, Read},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_framecast");

/// Long enough for a loaded 2-core machine; a hang still fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// A `framecast catalog serve` process; killed when dropped. Its stderr is
/// collected as it comes.
struct Server {
    child: Child,
    address: String,
    /// The scheme and extra flags every client command gets.
    scheme: &'static str,
    client_flags: Vec<String>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts a server on a free loopback port with `store_args`
    /// (`--memory` or `--db PATH`) and waits until it listens.
    fn start(store_args: &[&str]) -> Self {
        let mut args = vec!["--listen", "127.0.0.1:0"];
        args.extend_from_slice(store_args);
        Self::start_with(&args, &[]).unwrap_or_else(|e| panic!("the server did not start: {e}"))
    }

    /// Starts `framecast catalog serve ARGS` (with `env`) and waits for its
    /// "listening on" line; `Err` with its stderr if it exits instead.
    fn start_with(args: &[&str], env: &[(&str, &str)]) -> Result<Self, String> {
        Self::spawn(Command::new(BIN), args, env)
    }

    fn spawn(mut cmd: Command, args: &[&str], env: &[(&str, &str)]) -> Result<Self, String> {
        let mut child = cmd
            .args(["catalog", "serve"])
            .args(args)
            .env_remove("FRAMECAST_TOKEN")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the framecast binary starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().unwrap();
        let lines = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // `listening on ADDR`, then `(NAME)` when a name was given.
        let address = line.trim().strip_prefix("listening on ");
        let Some(address) = address.and_then(|a| a.split_whitespace().next()) else {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            let err = stderr.lock().unwrap().join("\n");
            return Err(format!("stdout {line:?}, stderr {err}"));
        };
        Ok(Self {
            address: address.to_owned(),
            child,
            scheme: "http",
            client_flags: Vec::new(),
            stderr,
        })
    }

    fn port(&self) -> u16 {
        self.address.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.address)
    }

    /// Runs a client command against this server.
    fn cli(&self, args: &[&str]) -> Output {
        let url = self.url();
        let mut all = vec!["catalog"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--server", &url]);
        all.extend(self.client_flags.iter().map(String::as_str));
        Command::new(BIN)
            .args(&all)
            .env_remove("FRAMECAST_TOKEN")
            .output()
            .unwrap()
    }

    /// Runs a client command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a client command that must fail; returns its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert_eq!(out.status.code(), Some(1), "{args:?} should exit 1");
        assert!(out.stdout.is_empty());
        String::from_utf8(out.stderr).unwrap()
    }

    /// Everything the server printed on stderr so far.
    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Waits until a stderr line contains `needle`.
    fn wait_for_stderr(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(l) = self
                .stderr
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "the server never logged {needle:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many file descriptors the server process holds.
    fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .unwrap()
            .count()
    }

    /// SIGKILL: no chance to flush or clean up.
    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends `signal` and checks the server exits cleanly (status 0).
    fn stop_with(mut self, signal: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + PATIENCE;
        let exit = loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                break exit;
            }
            assert!(Instant::now() < deadline, "no exit after SIG{signal}");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            exit.success(),
            "the server exited with {exit} on SIG{signal}"
        );
    }

    /// SIGTERM, and checks the server exits cleanly.
    fn terminate(self) {
        self.stop_with("TERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lab's `ecommerce.proto` as it came (its three methods), kept
/// byte for byte from `crates/proto/proto/ecommerce.proto` before
/// `listProducts` was added there.
const LAB_PROTO: &str = "tests/python/lab_ecommerce.proto";

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{text:?} is not JSON: {e}"))
}

#[test]
fn cli_adds_gets_and_deletes() {
    let server = Server::start(&["--memory"]);

    // Readable: add prints the id alone.
    let id = server.ok(&["add", "--name", "Desk lamp", "--price", "24.1"]);
    let id = id.trim();
    assert_eq!(id.len(), 36, "{id:?} is a UUID");
    let shown = server.ok(&["get", id]);
    assert!(shown.contains("name:        Desk lamp"), "{shown}");
    assert!(shown.contains("price:       24.1"), "{shown}");

    // JSON.
    let added = json(&server.ok(&[
        "add",
        "--name",
        "Chair",
        "--description",
        "oak",
        "--price",
        "40",
        "--id",
        "sku-7",
        "--json",
    ]));
    assert_eq!(added, serde_json::json!({ "id": "sku-7" }));
    let got = json(&server.ok(&["get", "sku-7", "--json"]));
    assert_eq!(
        got,
        serde_json::json!({ "id": "sku-7", "name": "Chair", "description": "oak", "price": 40.0 })
    );
    let lamp = json(&server.ok(&["get", id, "--json"]));
    assert_eq!(lamp["price"], serde_json::json!(24.1));

    let deleted = json(&server.ok(&["del", "sku-7", "--json"]));
    assert_eq!(deleted, got);
    let err = server.fails(&["get", "sku-7"]);
    assert!(
        err.contains("getProduct failed: NOT_FOUND: no product with id \"sku-7\""),
        "{err}"
    );
}

#[test]
fn cli_errors_print_the_status_and_exit_1() {
    let server = Server::start(&["--memory"]);
    server.ok(&["add", "--name", "a", "--price", "1", "--id", "x"]);
    for (args, expected) in [
        (
            &["add", "--name", "b", "--price", "1", "--id", "x"][..],
            "addProduct failed: ALREADY_EXISTS: a product with id \"x\" already exists",
        ),
        (
            &["add", "--name", "", "--price", "1"][..],
            "addProduct failed: INVALID_ARGUMENT: name: must not be empty",
        ),
        (
            &["add", "--name", "b", "--price", "-3"][..],
            "addProduct failed: INVALID_ARGUMENT: price: ",
        ),
        (
            &["add", "--name", "b", "--price", "NaN"][..],
            "addProduct failed: INVALID_ARGUMENT: price: ",
        ),
        (
            &["del", "nope"][..],
            "delProduct failed: NOT_FOUND: no product with id \"nope\"",
        ),
        (
            &["get", "a/b"][..],
            "getProduct failed: INVALID_ARGUMENT: value: character '/'",
        ),
    ] {
        let err = server.fails(args);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    // Bind and drop to find a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(BIN)
        .args([
            "catalog",
            "get",
            "x",
            "--server",
            &format!("http://127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect to the catalog server"),
        "{err}"
    );
}

fn db_path(dir: &Path) -> PathBuf {
    dir.join("catalog.redb")
}

/// Adds products through the CLI; returns (id, name) of each.
fn add_some(server: &Server, prefix: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let name = format!("{prefix} product {i}");
            let mut args = vec!["add", "--name", &name, "--price", "1.5"];
            let chosen = format!("{prefix}-{i}");
            if i % 2 == 0 {
                args.extend_from_slice(&["--id", &chosen]);
            }
            let id = server.ok(&args).trim().to_owned();
            (id, name)
        })
        .collect()
}

fn assert_all_present(server: &Server, products: &[(String, String)]) {
    for (id, name) in products {
        let got = json(&server.ok(&["get", id, "--json"]));
        assert_eq!(got["name"], serde_json::json!(name), "{id}");
    }
}

#[test]
fn products_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_path(dir.path());
    let db = db.to_str().unwrap();
    let server = Server::start(&["--db", db]);
    let products = add_some(&server, "r", 6);
    server.ok(&["del", "r-0"]);
    server.terminate();

    let server = Server::start(&["--db", db]);
    assert_all_present(&server, &products[1..]);
    let err = server.fails(&["get", "r-0"]);
    assert!(err.contains("NOT_FOUND"), "a delete is durable too: {err}");
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_path(dir.path());
    let db = db.to_str().unwrap();
    let server = Server::start(&["--db", db]);
    let products = add_some(&server, "k", 10);
    server.ok(&["del", "k-2"]);
    server.kill_9();

    let server = Server::start(&["--db", db]);
    let kept: Vec<_> = products
        .iter()
        .filter(|(id, _)| id != "k-2")
        .cloned()
        .collect();
    assert_all_present(&server, &kept);
    assert!(server.fails(&["get", "k-2"]).contains("NOT_FOUND"));
    // And the reopened store takes writes.
    server.ok(&["add", "--name", "after", "--price", "1", "--id", "after"]);
    server.kill_9();
    let server = Server::start(&["--db", db]);
    server.ok(&["get", "after"]);
}

#[test]
fn a_database_in_use_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_path(dir.path());
    let db = db.to_str().unwrap();
    let _first = Server::start(&["--db", db]);
    let out = Command::new(BIN)
        .args(["catalog", "serve", "--listen", "127.0.0.1:0", "--db", db])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is in use by another process")
            && err.contains("another `framecast catalog serve` holds it"),
        "{err}"
    );
}

/// The Python interpreter for interop tests: `FRAMECAST_PYTHON`, else the
/// workspace's `.venv`, else `python3`. `None` (with a message) when missing and not on CI;
/// on CI (`FRAMECAST_CI=1`) a missing interpreter or package fails the test.
fn python() -> Option<PathBuf> {
    framecast_test_support::tools::python(
        "catalog",
        &[
            "grpc",
            "grpc_tools",
            "grpc_health.v1",
            "grpc_reflection.v1alpha",
            "google.protobuf",
        ],
    )
}

#[test]
fn a_stock_python_client_sees_the_same_status_codes() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = db_path(dir.path());
    let server = Server::start(&["--db", db.to_str().unwrap()]);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The lab's service definition as it came: a client built from it is
    // unaffected by the methods added since.
    let proto = manifest.join(LAB_PROTO);
    let script = manifest.join("tests/python/catalog_stock_client.py");
    let work = dir.path().join("generated");
    std::fs::create_dir(&work).unwrap();
    let out = Command::new(python)
        .arg(&script)
        .arg(&proto)
        .arg(&server.address)
        .arg(&work)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the Python client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = json(&String::from_utf8(out.stdout).unwrap());

    let expected_codes = [
        ("add", "OK"),
        ("get", "OK"),
        ("add_chosen", "OK"),
        ("add_duplicate", "ALREADY_EXISTS"),
        ("get_missing", "NOT_FOUND"),
        ("del", "OK"),
        ("del_again", "NOT_FOUND"),
        ("get_deleted", "NOT_FOUND"),
        ("add_empty_name", "INVALID_ARGUMENT"),
        ("add_negative_price", "INVALID_ARGUMENT"),
        ("add_nan_price", "INVALID_ARGUMENT"),
        ("add_infinite_price", "INVALID_ARGUMENT"),
        ("add_long_name", "INVALID_ARGUMENT"),
        ("get_empty_id", "INVALID_ARGUMENT"),
    ];
    for (check, code) in expected_codes {
        assert_eq!(seen[check], serde_json::json!(code), "{check}: {seen}");
    }
    assert_eq!(seen["add.id_length"], serde_json::json!(36));
    assert_eq!(
        seen["get.fields"],
        serde_json::json!([true, "Desk lamp", "LED", 24.5])
    );
    assert_eq!(seen["add_chosen.id"], serde_json::json!("py-1"));
    assert_eq!(seen["del.name"], serde_json::json!("Chair"));
    assert_eq!(
        seen["get_missing.message"],
        serde_json::json!("no product with id \"no-such-id\"")
    );
    assert_eq!(
        seen["add_long_name.message"],
        serde_json::json!("name: 257 bytes exceeds the 256-byte limit")
    );
    assert_eq!(seen["health[]"], serde_json::json!("SERVING"));
    assert_eq!(
        seen["health[ecommerce.ProductInfo]"],
        serde_json::json!("SERVING")
    );
    let services = serde_json::json!([
        "ecommerce.ProductInfo",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ]);
    assert_eq!(seen["reflection.v1alpha.services"], services);
    assert_eq!(seen["reflection.v1.services"], services);
    assert_eq!(
        seen["reflection.v1alpha.methods"],
        serde_json::json!(["addProduct", "delProduct", "getProduct", "listProducts"])
    );

    // What the Python client added is there for the Rust CLI too.
    let id = seen["add.id"].as_str().unwrap();
    let got = json(&server.ok(&["get", id, "--json"]));
    assert_eq!(got["name"], serde_json::json!("Desk lamp"));
}

#[test]
fn a_stock_python_client_pages_through_the_catalog() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&["--db", db_path(dir.path()).to_str().unwrap()]);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The workspace's definition: the lab's three methods and listProducts.
    let proto = manifest.join("../proto/proto/ecommerce.proto");
    let script = manifest.join("tests/python/catalog_list_client.py");
    let work = dir.path().join("generated");
    std::fs::create_dir(&work).unwrap();
    let out = Command::new(python)
        .arg(&script)
        .arg(&proto)
        .arg(&server.address)
        .arg(&work)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the Python client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = json(&String::from_utf8(out.stdout).unwrap());
    let ids: Vec<String> = (0..12).map(|i| format!("py-{i:02}")).collect();
    assert_eq!(seen["added"], serde_json::json!(ids));
    assert_eq!(
        seen["pages"],
        serde_json::json!([&ids[..5], &ids[5..10], &ids[10..]])
    );
    assert_eq!(seen["default_page"], serde_json::json!(ids));
    assert_eq!(seen["default_page.next"], "");
    assert_eq!(seen["default_page.prices"][1], serde_json::json!(10.25));
    assert_eq!(seen["negative_size"], "INVALID_ARGUMENT");
    assert_eq!(seen["bad_token"], "INVALID_ARGUMENT");
    assert!(
        seen["bad_token.message"]
            .as_str()
            .unwrap()
            .starts_with("page_token: "),
        "{seen}"
    );
    // The Rust CLI lists the same catalog, in the same order.
    let listed = server.ok(&["list"]);
    let listed: Vec<&str> = listed
        .lines()
        .map(|l| l.split("  ").next().unwrap())
        .collect();
    assert_eq!(listed, ids);
}

#[test]
fn cli_lists_products_and_writes_numbers_one_way() {
    let server = Server::start(&["--memory"]);
    for (id, price) in [("c", "1"), ("a", "24.1"), ("b", "0"), ("d", "40")] {
        server.ok(&[
            "add",
            "--name",
            &format!("item {id}"),
            "--price",
            price,
            "--id",
            id,
        ]);
    }
    assert_eq!(
        server.ok(&["list"]),
        "a  24.1  item a\nb  0  item b\nc  1  item c\nd  40  item d\n"
    );
    // Small pages, a limit, and going on after an id.
    let out = server.cli(&["list", "--page-size", "1", "--limit", "2"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "a  24.1  item a\nb  0  item b\n"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("go on with --after b"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        server.ok(&["list", "--after", "b"]),
        "c  1  item c\nd  40  item d\n"
    );
    assert_eq!(server.ok(&["list", "--after", "d"]), "");
    // JSON: one object per line, every price written the same way, whichever
    // command prints it.
    let listed: Vec<serde_json::Value> = server.ok(&["list", "--json"]).lines().map(json).collect();
    assert_eq!(listed.len(), 4);
    let got = server.ok(&["get", "c", "--json"]);
    let deleted = server.ok(&["del", "c", "--json"]);
    assert_eq!(got, deleted);
    assert_eq!(json(&got), listed[2]);
    assert!(got.contains("\"price\":1.0"), "{got}");
    let text = serde_json::to_string(&listed).unwrap();
    assert!(
        text.contains("\"price\":24.1")
            && text.contains("\"price\":0.0")
            && text.contains("\"price\":40.0"),
        "{text}"
    );
    let err = server.fails(&["list", "--after", "a/b"]);
    assert!(
        err.contains("listProducts failed: INVALID_ARGUMENT: page_token: "),
        "{err}"
    );
}

#[test]
fn cert_writes_a_ca_and_a_server_certificate_and_guards_them() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("tls");
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args(["cert", "--out", out_dir.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--tls-cert",
        "--tls-key",
        "--tls-ca",
        "https://localhost:50051",
    ] {
        assert!(text.contains(flag), "{flag} missing from {text}");
    }
    assert!(text.contains("localhost, 127.0.0.1, ::1"), "{text}");
    let mut names: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["ca.pem", "server-key.pem", "server.pem"]);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out_dir.join("server-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let ca = std::fs::read(out_dir.join("ca.pem")).unwrap();

    // A second run refuses to replace them, and says how.
    let out = run(&["--host", "cam.example.org"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("exists already") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(out_dir.join("ca.pem")).unwrap(), ca);

    let out = run(&[
        "--host",
        "cam.example.org",
        "--host",
        "192.0.2.7",
        "--force",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(std::fs::read(out_dir.join("ca.pem")).unwrap(), ca);
    assert!(String::from_utf8_lossy(&out.stdout).contains("cam.example.org, 192.0.2.7"));

    let out = run(&["--host", "not a host", "--force"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"not a host\""));
}

/// `framecast cert --out DIR HOSTS…`; returns (ca, cert, key).
fn make_certs(dir: &Path, hosts: &[&str]) -> (PathBuf, PathBuf, PathBuf) {
    framecast_test_support::fixtures::make_certs(Path::new(BIN), dir, hosts)
}

const TOKEN: &str = "a-token-for-the-tests-0123456789";

fn token_file(dir: &Path) -> PathBuf {
    let path = dir.join("token");
    std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
    path
}

/// A TLS server with a token, from `framecast cert`'s files.
struct Secured {
    server: Server,
    dir: tempfile::TempDir,
    ca: PathBuf,
    token: PathBuf,
}

fn secured(hosts: &[&str]) -> Secured {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_certs(&dir.path().join("tls"), hosts);
    let token = token_file(dir.path());
    let mut server = Server::start_with(
        &[
            "--listen",
            "127.0.0.1:0",
            "--memory",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--token-file",
            token.to_str().unwrap(),
        ],
        &[],
    )
    .unwrap();
    server.scheme = "https";
    Secured {
        server,
        dir,
        ca,
        token,
    }
}

#[test]
fn tls_and_a_token_with_the_cli() {
    let s = secured(&["localhost", "127.0.0.1", "::1"]);
    let port = s.server.port();
    let ca = s.ca.to_str().unwrap();
    let token = s.token.to_str().unwrap();
    let run = |server: String, extra: &[&str], env: &[(&str, &str)]| {
        Command::new(BIN)
            .args(["catalog", "get", "nope", "--server", &server])
            .args(extra)
            .env_remove("FRAMECAST_TOKEN")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();

    // By name and by address, with the token from a file or the environment:
    // the call reaches the service (NOT_FOUND is its answer).
    for (server, extra, env) in [
        (
            format!("https://localhost:{port}"),
            vec!["--tls-ca", ca, "--token-file", token],
            vec![],
        ),
        (
            format!("https://127.0.0.1:{port}"),
            vec!["--tls-ca", ca, "--token-file", token],
            vec![],
        ),
        // HOST:PORT with --tls-ca means TLS.
        (
            format!("localhost:{port}"),
            vec!["--tls-ca", ca],
            vec![("FRAMECAST_TOKEN", TOKEN)],
        ),
    ] {
        let out = run(server.clone(), &extra, &env);
        assert!(
            stderr(&out).contains("NOT_FOUND"),
            "{server}: {}",
            stderr(&out)
        );
    }
    let mut server = s.server;
    server.client_flags = vec![
        "--tls-ca".into(),
        ca.into(),
        "--token-file".into(),
        token.into(),
    ];
    let id = server.ok(&["add", "--name", "lamp", "--price", "3"]);
    assert!(server.ok(&["get", id.trim()]).contains("lamp"));
    server.ok(&["del", id.trim()]);

    // No token: UNAUTHENTICATED, with what to do.
    let out = run(format!("https://localhost:{port}"), &["--tls-ca", ca], &[]);
    let err = stderr(&out);
    assert!(
        err.contains("UNAUTHENTICATED") && err.contains("--token-file"),
        "{err}"
    );
    // A wrong token.
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not-the-right-token-at-all").unwrap();
    let out = run(
        format!("https://localhost:{port}"),
        &["--tls-ca", ca, "--token-file", wrong.to_str().unwrap()],
        &[],
    );
    let err = stderr(&out);
    assert!(
        err.contains("UNAUTHENTICATED: the access token is not valid"),
        "{err}"
    );
    assert!(!err.contains("not-the-right-token-at-all"), "{err}");
    // A token too short to be one.
    std::fs::write(&wrong, "short").unwrap();
    let out = run(
        format!("https://localhost:{port}"),
        &["--tls-ca", ca, "--token-file", wrong.to_str().unwrap()],
        &[],
    );
    assert!(stderr(&out).contains("at least 16"), "{}", stderr(&out));

    // Another CA: refused before anything is sent, clearly.
    let (other_ca, _, _) = make_certs(&dir.path().join("other"), &["localhost"]);
    let out = run(
        format!("https://localhost:{port}"),
        &[
            "--tls-ca",
            other_ca.to_str().unwrap(),
            "--token-file",
            token,
        ],
        &[],
    );
    let err = stderr(&out);
    assert!(err.contains("not signed by a trusted CA"), "{err}");
    assert!(err.contains("--tls-ca"), "{err}");
    // Plaintext to the TLS port: a clear error, not a hang.
    let out = run(
        format!("http://127.0.0.1:{port}"),
        &["--token-file", token],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("https://"), "{}", stderr(&out));
    server.wait_for_stderr("the peer does not speak TLS");
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    // The certificate names only localhost; connect by address.
    let s = secured(&["localhost"]);
    let out = Command::new(BIN)
        .args(["catalog", "get", "x", "--server"])
        .arg(format!("https://127.0.0.1:{}", s.server.port()))
        .args(["--tls-ca", s.ca.to_str().unwrap()])
        .args(["--token-file", s.token.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("not valid for the name") && err.contains("localhost"),
        "{err}"
    );
    assert!(err.contains("framecast cert --host 127.0.0.1"), "{err}");
}

#[test]
fn https_to_a_plaintext_server_is_never_silent_plaintext() {
    let server = Server::start(&["--memory"]);
    let dir = tempfile::tempdir().unwrap();
    let (ca, _, _) = make_certs(&dir.path().join("tls"), &["localhost"]);
    let out = Command::new(BIN)
        .args(["catalog", "get", "x", "--server"])
        .arg(format!("https://{}", server.address))
        .args(["--tls-ca", ca.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("over TLS"), "{err}");
    assert!(err.contains("http://"), "{err}");
}

#[test]
fn a_stock_python_client_over_tls_with_the_token() {
    let Some(python) = python() else { return };
    let s = secured(&["localhost", "127.0.0.1", "::1"]);
    let (wrong_ca, _, _) = make_certs(&s.dir.path().join("wrong"), &["localhost"]);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let proto = manifest.join(LAB_PROTO);
    let script = manifest.join("tests/python/catalog_tls_client.py");
    let work = s.dir.path().join("generated");
    std::fs::create_dir(&work).unwrap();
    let out = Command::new(python)
        .arg(&script)
        .arg(&proto)
        .arg(format!("localhost:{}", s.server.port()))
        .arg(&s.ca)
        .arg(&wrong_ca)
        .arg(&s.token)
        .arg(&work)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the Python client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = json(&String::from_utf8(out.stdout).unwrap());
    for (check, code) in [
        ("add", "OK"),
        ("get", "OK"),
        ("del", "OK"),
        ("add_without_token", "UNAUTHENTICATED"),
        ("get_without_token", "UNAUTHENTICATED"),
        ("add_wrong_token", "UNAUTHENTICATED"),
        ("health_without_token", "OK"),
        ("reflection_without_token", "UNAUTHENTICATED"),
        ("reflection_with_token", "OK"),
        ("add_wrong_ca", "UNAVAILABLE"),
        ("add_wrong_name", "UNAVAILABLE"),
    ] {
        assert_eq!(seen[check], serde_json::json!(code), "{check}: {seen}");
    }
    assert_eq!(seen["get.name"], serde_json::json!("Desk lamp"));
    assert_eq!(seen["del.name"], serde_json::json!("Desk lamp"));
    assert_eq!(seen["health.status"], serde_json::json!("SERVING"));
    assert_eq!(
        seen["add_without_token.message"],
        serde_json::json!("no access token: this server requires one")
    );
    assert!(
        seen["reflection_with_token.services"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("ecommerce.ProductInfo")),
        "{seen}"
    );
    // The server says why the handshakes failed, naming the peer, and never
    // the token.
    s.server
        .wait_for_stderr("refused an unauthenticated request");
    let log = s.server.stderr();
    assert!(
        log.contains("peer=127.0.0.1:") || log.contains("peer=[::1]:"),
        "{log}"
    );
    assert!(
        !log.contains(TOKEN),
        "the token leaked into the log:\n{log}"
    );
}

#[test]
fn protected_mode_refuses_an_open_port_beyond_loopback() {
    // 0.0.0.0 with no token: refused, naming both ways out.
    let err = Server::start_with(&["--listen", "0.0.0.0:0", "--memory"], &[])
        .err()
        .expect("refused");
    assert!(err.contains("without authentication"), "{err}");
    assert!(
        err.contains("--token-file") && err.contains("--allow-anonymous"),
        "{err}"
    );

    // Opted out: starts, and warns once.
    let server = Server::start_with(
        &["--listen", "0.0.0.0:0", "--memory", "--allow-anonymous"],
        &[],
    )
    .unwrap();
    server.wait_for_stderr("catalog server ready");
    let warnings = server
        .stderr()
        .lines()
        .filter(|l| l.contains("without authentication"))
        .count();
    assert_eq!(warnings, 1, "{}", server.stderr());
    let port = server.port();
    let out = Command::new(BIN)
        .args([
            "catalog",
            "get",
            "x",
            "--server",
            &format!("127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT_FOUND"));

    // With a token, from the environment or a file, it starts, and warns
    // that the token travels in plaintext without TLS; the token never
    // appears.
    let server = Server::start_with(
        &["--listen", "0.0.0.0:0", "--memory"],
        &[("FRAMECAST_TOKEN", TOKEN)],
    )
    .unwrap();
    server.wait_for_stderr("in plaintext");
    assert!(!server.stderr().contains(TOKEN));
    let dir = tempfile::tempdir().unwrap();
    let token = token_file(dir.path());
    let server = Server::start_with(
        &[
            "--listen",
            "0.0.0.0:0",
            "--memory",
            "--token-file",
            token.to_str().unwrap(),
        ],
        &[],
    )
    .unwrap();
    server.wait_for_stderr("in plaintext");
    assert!(!server.stderr().contains(TOKEN));

    // Loopback by name needs nothing, and IPv6 loopback too.
    for listen in ["localhost:0", "[::1]:0"] {
        let server = Server::start_with(&["--listen", listen, "--memory"], &[]).unwrap();
        let out = Command::new(BIN)
            .args(["catalog", "get", "x", "--server"])
            .arg(&server.address)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("NOT_FOUND"),
            "{listen}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn addresses_and_ports_are_checked_with_clear_errors() {
    for (args, says) in [
        (
            vec!["get", "x", "--server", "127.0.0.1:99999"],
            "out of range (1-65535)",
        ),
        (vec!["get", "x", "--server", "::1:50051"], "in brackets"),
        (
            vec!["get", "x", "--server", "ftp://h:1"],
            "http:// or https://",
        ),
    ] {
        let out = Command::new(BIN)
            .arg("catalog")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    let err = Server::start_with(&["--listen", "127.0.0.1:70000", "--memory"], &[])
        .err()
        .unwrap();
    assert!(err.contains("out of range (0-65535)"), "{err}");
    // A busy port says what to do.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = busy.local_addr().unwrap().to_string();
    let err = Server::start_with(&["--listen", &listen, "--memory"], &[])
        .err()
        .unwrap();
    assert!(
        err.contains("hint: another program listens there") && err.contains("port 0"),
        "{err}"
    );
}

#[test]
fn sigint_stops_the_server_cleanly_too() {
    let server = Server::start(&["--memory"]);
    server.ok(&["add", "--name", "a", "--price", "1"]);
    server.stop_with("INT");
}

#[test]
fn readable_output_escapes_control_characters() {
    let server = Server::start(&["--memory"]);
    let name = "\u{1b}[2J\u{1b}[31mred\nprice:       0";
    let description = "tab\there\r\u{7}bell \u{202e}reversed";
    server.ok(&[
        "add",
        "--name",
        name,
        "--description",
        description,
        "--price",
        "5",
        "--id",
        "evil",
    ]);
    let shown = server.ok(&["get", "evil"]);
    assert!(
        !shown.bytes().any(|b| b == 0x1b || b == b'\r' || b == 7),
        "{shown:?}"
    );
    assert!(!shown.contains('\u{202e}'), "{shown:?}");
    assert!(
        shown.contains(r"name:        \u{1b}[2J\u{1b}[31mred\nprice:       0"),
        "{shown}"
    );
    assert!(
        shown.contains(r"tab\there\r\u{7}bell \u{202e}reversed"),
        "{shown}"
    );
    // Four lines: the fake "price" line is not a line of its own.
    assert_eq!(shown.lines().count(), 4, "{shown}");
    assert_eq!(
        shown.lines().filter(|l| l.starts_with("price:")).count(),
        1,
        "{shown}"
    );
    let deleted = server.ok(&["del", "evil"]);
    assert!(!deleted.bytes().any(|b| b == 0x1b), "{deleted:?}");
    // JSON keeps the exact value (escaped the JSON way).
    server.ok(&["add", "--name", name, "--price", "5", "--id", "evil"]);
    let got = json(&server.ok(&["get", "evil", "--json"]));
    assert_eq!(got["name"], serde_json::json!(name));
}

/// Opens `n` TCP connections that send nothing.
fn idle_connections(port: u16, n: usize) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect()
}

/// How many of `conns` the server has closed (a read sees end of stream or
/// a reset) within `wait`.
fn closed_by_server(conns: &mut [TcpStream], wait: Duration) -> usize {
    let deadline = Instant::now() + wait;
    let mut closed = vec![false; conns.len()];
    loop {
        for (i, conn) in conns.iter_mut().enumerate() {
            if closed[i] {
                continue;
            }
            conn.set_nonblocking(true).unwrap();
            let mut buf = [0; 256];
            match conn.read(&mut buf) {
                Ok(0) => closed[i] = true,
                Ok(_) => {} // the server's HTTP/2 settings
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => closed[i] = true,
            }
        }
        let n = closed.iter().filter(|c| **c).count();
        if n == conns.len() || Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn idle_connections_over_the_cap_are_closed_and_a_client_still_gets_in() {
    const CAP: usize = 50;
    let server = Server::start_with(
        &[
            "--listen",
            "127.0.0.1:0",
            "--memory",
            "--max-connections",
            &CAP.to_string(),
            "--idle-timeout",
            "0",
        ],
        &[],
    )
    .unwrap();
    let baseline = server.open_fds();
    let mut flood = idle_connections(server.port(), 300);
    assert_eq!(flood.len(), 300, "the kernel accepted every connection");
    // All but the newest CAP are closed by the server.
    let closed = closed_by_server(&mut flood, Duration::from_secs(30));
    assert!(closed >= 300 - CAP, "only {closed} of 300 closed");
    let held = server.open_fds();
    assert!(
        held <= baseline + CAP + 5,
        "the server holds {held} descriptors (baseline {baseline}, cap {CAP})"
    );
    // A legitimate client still succeeds while the flood is held open.
    let id = server.ok(&["add", "--name", "legit", "--price", "1"]);
    assert!(server.ok(&["get", id.trim()]).contains("legit"));
    let line = server.wait_for_stderr("connection limit reached");
    assert!(line.contains("peer=127.0.0.1:"), "{line}");
    drop(flood);
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let server = Server::start_with(
        &["--listen", "127.0.0.1:0", "--memory", "--idle-timeout", "1"],
        &[],
    )
    .unwrap();
    let mut idle = idle_connections(server.port(), 3);
    assert_eq!(closed_by_server(&mut idle, PATIENCE), 3);
    let line = server.wait_for_stderr("closing an idle connection");
    assert!(line.contains("peer=127.0.0.1:"), "{line}");
    // Clients that make requests are unaffected.
    server.ok(&["add", "--name", "a", "--price", "1"]);
}

#[test]
fn a_small_open_file_limit_cannot_be_exhausted_by_idle_connections() {
    // 64 descriptors, as with `ulimit -n 64`: before the cap, 200 idle
    // connections made a legitimate add fail with DEADLINE_EXCEEDED and
    // nothing logged.
    let mut cmd = Command::new("prlimit");
    cmd.args(["--nofile=64:64", "--", BIN]);
    let server = Server::spawn(cmd, &["--listen", "127.0.0.1:0", "--memory"], &[])
        .unwrap_or_else(|e| panic!("the server did not start under prlimit: {e}"));
    server.wait_for_stderr("lowering --max-connections to fit the open-file limit");
    let mut flood = idle_connections(server.port(), 200);
    let id = server.ok(&["add", "--name", "legit", "--price", "1", "--timeout", "20"]);
    assert!(server.ok(&["get", id.trim()]).contains("legit"));
    assert!(server.open_fds() <= 64);
    let closed = closed_by_server(&mut flood, Duration::from_secs(30));
    assert!(closed >= 150, "only {closed} of {} closed", flood.len());
    server.wait_for_stderr("connection limit reached");
}

/// Two `catalog serve` processes on one PostgreSQL database.
fn pg_servers(url: &str) -> (Server, Server) {
    let start = || {
        Server::start_with(&["--listen", "127.0.0.1:0", "--db", url], &[])
            .unwrap_or_else(|e| panic!("catalog serve on PostgreSQL: {e}"))
    };
    (start(), start())
}

#[test]
fn two_servers_on_one_postgresql_serve_one_catalog() {
    let Some(pg) = pg::shared() else { return };
    let url = pg.new_database();
    let (a, b) = pg_servers(&url);
    let id = a.ok(&["add", "--name", "shared lamp", "--price", "7"]);
    let id = id.trim();
    assert!(b.ok(&["get", id]).contains("shared lamp"));
    assert!(b.ok(&["del", id]).contains("shared lamp"));
    assert!(a.fails(&["get", id]).contains("NOT_FOUND"));

    // The same id added through both at once: exactly one success.
    let adds: Vec<_> = (0..8)
        .map(|i| {
            let server = if i % 2 == 0 { &a } else { &b };
            Command::new(BIN)
                .args(["catalog", "add", "--name", &format!("n{i}"), "--price", "1"])
                .args(["--id", "raced", "--server", &server.url()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ok = 0;
    for add in adds {
        let out = add.wait_with_output().unwrap();
        if out.status.success() {
            ok += 1;
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("ALREADY_EXISTS"), "{err}");
        }
    }
    assert_eq!(ok, 1);

    // A restarted server keeps everything.
    let products = add_some(&a, "pg", 4);
    a.terminate();
    let (a, _) = (
        Server::start_with(&["--listen", "127.0.0.1:0", "--db", &url], &[]).unwrap(),
        (),
    );
    assert_all_present(&a, &products);
    assert_all_present(&b, &products);
    // The password never shows, and the store is named.
    assert!(
        a.stderr().contains("postgres://postgres@127.0.0.1:"),
        "{}",
        a.stderr()
    );
}

#[test]
fn postgresql_stopped_under_a_running_server_is_unavailable_then_back() {
    let Some(pg) = pg::PgServer::start() else {
        return;
    };
    let url = pg.new_database();
    let server = Server::start_with(&["--listen", "127.0.0.1:0", "--db", &url], &[]).unwrap();
    server.ok(&["add", "--name", "before", "--price", "1", "--id", "before"]);
    pg.stop();
    let err = server.fails(&["get", "before"]);
    assert!(
        err.contains("UNAVAILABLE") && err.contains("retry later"),
        "{err}"
    );
    let err = server.fails(&["add", "--name", "during", "--price", "1"]);
    assert!(err.contains("UNAVAILABLE"), "{err}");
    server.wait_for_stderr("the product store is unavailable");
    pg.start_again();
    assert!(server.ok(&["get", "before"]).contains("before"));
    server.ok(&["add", "--name", "after", "--price", "1"]);
}

#[test]
fn postgresql_unreachable_at_start_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Server::start_with(
        &[
            "--listen",
            "127.0.0.1:0",
            "--db",
            &format!("postgres://app:hunter2-secret@127.0.0.1:{port}/shop"),
        ],
        &[],
    )
    .err()
    .unwrap();
    assert!(err.contains("cannot reach the catalog database"), "{err}");
    assert!(!err.contains("hunter2-secret"), "{err}");
}
