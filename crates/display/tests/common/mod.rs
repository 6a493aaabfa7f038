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

/// Splits a Motion-JPEG stream at SOI/EOI into complete frames, and returns
/// them with the length of the incomplete tail (0 if none).
///
/// The check is structural (SOI ... EOI, with the entropy-coded data's
/// stuffed `FF 00` bytes and restart markers skipped by walking the marker
/// segments), which is how a player finds frames.
pub fn split_mjpeg(data: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut frames = Vec::new();
    let mut start = 0;
    while start < data.len() {
        match frame_end(&data[start..]) {
            Some(len) => {
                frames.push(&data[start..start + len]);
                start += len;
            }
            None => return (frames, data.len() - start),
        }
    }
    (frames, 0)
}

/// The length of the complete JPEG at the start of `data`, if there is one.
fn frame_end(data: &[u8]) -> Option<usize> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    loop {
        // A marker segment: FF xx, then (except standalone markers) a length.
        if *data.get(i)? != 0xFF {
            return None;
        }
        let marker = *data.get(i + 1)?;
        match marker {
            0xFF => i += 1, // fill byte
            0xD9 => return Some(i + 2),
            0x01 | 0xD0..=0xD7 => i += 2,
            _ => {
                let len = usize::from(u16::from_be_bytes([*data.get(i + 2)?, *data.get(i + 3)?]));
                i += 2 + len;
                if marker == 0xDA {
                    // Entropy-coded data: runs to the next marker that is
                    // neither a stuffed zero nor a restart marker.
                    loop {
                        if *data.get(i)? == 0xFF {
                            let next = *data.get(i + 1)?;
                            if next != 0x00 && !(0xD0..=0xD7).contains(&next) {
                                break;
                            }
                            i += 2;
                        } else {
                            i += 1;
                        }
                    }
                }
            }
        }
    }
}
