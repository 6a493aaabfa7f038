//! Helpers shared by the integration tests.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

/// A test picture from `tests/data` (see its README for how each was made).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Finds an external tool on PATH.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The project's convention for tests needing an external tool: a missing
/// tool skips the test with a message, except under CI (`FRAMECAST_CI=1`),
/// where it fails, so that CI can never skip silently.
///
/// Returns the tools' paths, or `None` when the test should skip.
pub fn require_tools(test: &str, names: &[&str]) -> Option<Vec<PathBuf>> {
    let mut found = Vec::new();
    for name in names {
        match find_tool(name) {
            Some(path) => found.push(path),
            None => {
                if std::env::var("FRAMECAST_CI").is_ok_and(|v| v == "1") {
                    panic!(
                        "{test}: `{name}` is not installed, and FRAMECAST_CI=1 forbids skipping"
                    );
                }
                eprintln!(
                    "SKIPPED {test}: `{name}` is not installed (set FRAMECAST_CI=1 to make this fatal)"
                );
                return None;
            }
        }
    }
    Some(found)
}
