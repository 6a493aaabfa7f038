//! External programs in tests: the project's skip-or-fail rule, Python for
//! interop tests, and a private X server.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How long an external program may take to start.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether CI asked for every test to run (`FRAMECAST_CI=1`): a missing
/// tool is then a failure, not a skip.
pub fn ci() -> bool {
    std::env::var_os("FRAMECAST_CI").is_some_and(|v| v == "1")
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("this crate lives at crates/test-support")
        .to_path_buf()
}

/// Finds an external program on `PATH`.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Skips `test` (after saying why), or, under `FRAMECAST_CI=1`, fails it.
///
/// # Panics
///
/// Under `FRAMECAST_CI=1`, always.
pub fn skip(test: &str, why: &str) {
    assert!(!ci(), "{test}: {why}, and FRAMECAST_CI=1 forbids skipping");
    eprintln!("SKIPPED {test}: {why} (set FRAMECAST_CI=1 to make this fatal)");
}

/// The programs' paths, or `None` when the test should skip (a program is
/// missing); under `FRAMECAST_CI=1` a missing program fails the test.
pub fn require_tools(test: &str, names: &[&str]) -> Option<Vec<PathBuf>> {
    let mut found = Vec::new();
    for name in names {
        match find_tool(name) {
            Some(path) => found.push(path),
            None => {
                skip(test, &format!("`{name}` is not installed"));
                return None;
            }
        }
    }
    Some(found)
}

/// A Python interpreter that can `import` every module of `imports`:
/// `$FRAMECAST_PYTHON`, else the workspace's `.venv/bin/python` (which
/// `scripts/setup.sh` makes), else `python3` on `PATH`. `None` when the test
/// should skip; under `FRAMECAST_CI=1` none found fails the test.
pub fn python(test: &str, imports: &[&str]) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("FRAMECAST_PYTHON").map(PathBuf::from),
        Some(workspace_root().join(".venv/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    let check = format!("import {}", imports.join(", "));
    for candidate in candidates.into_iter().flatten() {
        let works = Command::new(&candidate)
            .args(["-c", &check])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if works {
            return Some(candidate);
        }
    }
    skip(
        test,
        &format!(
            "no Python can `{check}` (run scripts/setup.sh, which makes .venv, or set \
             FRAMECAST_PYTHON)"
        ),
    );
    None
}

/// A private X server on a display number of its own choosing, killed when
/// dropped.
#[derive(Debug)]
pub struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    /// Starts `xvfb` (the `Xvfb` program) with one 1024x768 screen and no
    /// TCP listener, and waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// If it does not start within [`START_TIMEOUT`].
    pub fn start(xvfb: &Path) -> Self {
        // -displayfd: the server picks a free display number and writes it
        // to our pipe once it accepts connections, so there is no race on
        // numbers or readiness.
        let mut child = Command::new(xvfb)
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1024x768x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts");
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = out.read_line(&mut line);
            let _ = tx.send(line);
        });
        let Ok(number) = rx.recv_timeout(START_TIMEOUT) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("Xvfb did not start within {START_TIMEOUT:?}");
        };
        Self {
            child,
            display: format!(":{}", number.trim()),
        }
    }

    /// The display's name, for `DISPLAY` (e.g. `:3`).
    pub fn display(&self) -> &str {
        &self.display
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
