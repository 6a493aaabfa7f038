//! Test data made in the test: the `hexdump -C` text of bytes, certificates
//! from `framecast cert`, and (feature `pictures`) an MJPEG file of the
//! test pattern.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `bytes` in the format of `hexdump -C`: offset, sixteen bytes in hex (a
/// space after the eighth), the printable ones between bars, and the length
/// on the last line.
///
/// ```
/// let text = framecast_test_support::fixtures::hexdump(b"FCHS\x01");
/// assert_eq!(
///     text,
///     "00000000  46 43 48 53 01                                    |FCHS.|\n00000005\n"
/// );
/// ```
pub fn hexdump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        let mut hex = String::new();
        for (j, b) in line.iter().enumerate() {
            let _ = write!(hex, "{b:02x} ");
            if j == 7 {
                hex.push(' ');
            }
        }
        let ascii: String = line
            .iter()
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        let _ = writeln!(out, "{:08x}  {hex:<49} |{ascii}|", i * 16);
    }
    let _ = writeln!(out, "{:08x}", bytes.len());
    out
}

/// Runs `bin cert --out DIR --host …` (the `framecast` binary); returns the
/// CA's certificate, the server's certificate and the server's key.
///
/// # Panics
///
/// When the command fails (with its error output).
pub fn make_certs(bin: &Path, dir: &Path, hosts: &[&str]) -> (PathBuf, PathBuf, PathBuf) {
    let mut cmd = Command::new(bin);
    cmd.args(["cert", "--out"]).arg(dir);
    for host in hosts {
        cmd.args(["--host", host]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server-key.pem"),
    )
}

/// `frames` frames of the test pattern (from sequence 0), each a
/// `width`x`height` JPEG of `quality`: `.concat()` them for an MJPEG file,
/// what the `mjpeg:` source reads (feature `pictures`).
///
/// # Panics
///
/// On a size or quality the codec refuses.
#[cfg(feature = "pictures")]
#[cfg_attr(docsrs, doc(cfg(feature = "pictures")))]
pub fn pattern_jpegs(width: u32, height: u32, quality: u8, frames: u64) -> Vec<Vec<u8>> {
    use framecast_codec::{ImageBuf, PixelFormat, SenderConfig, SenderPipeline};

    let pattern = framecast_capture::Pattern::new(width, height).unwrap();
    let mut encoder =
        SenderPipeline::new(SenderConfig::new(width, height).with_quality(quality)).unwrap();
    let mut img = ImageBuf::new(width, height, PixelFormat::Rgb8);
    (0..frames)
        .map(|seq| {
            pattern.render(seq, &mut img);
            let mut jpeg = Vec::new();
            encoder.encode(img.as_image(), &mut jpeg).unwrap();
            jpeg
        })
        .collect()
}
