//! framecast's test pattern, framed with framecast-wire, written to a file
//! or a socket — what a project that only moves pictures needs.
//!
//! Each captured picture becomes one length-prefixed frame whose payload is
//! an 8-byte header (width and height, `u32` little-endian) followed by the
//! packed RGB24 pixels. Reading the frames back, [`decode_marker`] finds in
//! each picture the sequence number the pattern drew into it, so the check
//! proves every frame arrived whole and in order.
//!
//! ```text
//! framecast-downstream write FILE [FRAMES]     capture FRAMES pictures (default 30) into FILE
//! framecast-downstream write tcp:ADDR [FRAMES] the same, to a TCP listener at ADDR
//! framecast-downstream check FILE [FRAMES]     read FILE back and check each picture
//! framecast-downstream loopback [FRAMES]       write over loopback TCP to a reader thread, check
//! ```

use std::error::Error;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;

use framecast_capture::{Frame, FrameSource, ImageRef, PatternSource, PixelFormat, decode_marker};
use framecast_wire::{FrameReader, FrameWriter};

/// The pictures' size: small enough to be quick, large enough for the
/// pattern's marker.
const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;
/// Bytes before the pixels in each frame: width and height.
const HEADER_LEN: usize = 8;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Each cause once: the error, then its sources.
            let mut message = e.to_string();
            let mut source = e.source();
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            eprintln!("framecast-downstream: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let frames = |at: usize| -> Result<u64> {
        match args.get(at) {
            Some(n) => Ok(n.parse().map_err(|_| format!("not a frame count: {n}"))?),
            None => Ok(30),
        }
    };
    match args.first().map(String::as_str) {
        Some("write") => {
            let to = args.get(1).ok_or("write: where to? FILE or tcp:ADDR")?;
            let n = frames(2)?;
            match to.strip_prefix("tcp:") {
                Some(addr) => write_frames(TcpStream::connect(addr)?, n),
                None => write_frames(BufWriter::new(File::create(to)?), n),
            }?;
            println!("wrote {n} frames to {to}");
            Ok(())
        }
        Some("check") => {
            let path = args.get(1).ok_or("check: which file?")?;
            let n = frames(2)?;
            check_frames(BufReader::new(File::open(path)?), n)?;
            println!("{path}: {n} frames, each whole and in order");
            Ok(())
        }
        Some("loopback") => {
            let n = frames(1)?;
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let addr = listener.local_addr()?;
            let reader = thread::spawn(move || -> Result<()> {
                let (stream, _) = listener.accept()?;
                check_frames(stream, n)
            });
            write_frames(TcpStream::connect(addr)?, n)?;
            reader.join().map_err(|_| "the reader thread panicked")??;
            println!("{n} frames over {addr}, each whole and in order");
            Ok(())
        }
        _ => Err(
            "usage: framecast-downstream write FILE|tcp:ADDR [FRAMES] | \
                  check FILE [FRAMES] | loopback [FRAMES]"
                .into(),
        ),
    }
}

/// Captures `n` pictures of the test pattern and writes each as one frame.
fn write_frames(out: impl Write, n: u64) -> Result<()> {
    let mut source = PatternSource::new(WIDTH, HEIGHT)?;
    let mut writer = FrameWriter::new(out);
    let mut frame = Frame::default();
    // One buffer for every frame's payload, reused.
    let mut payload = Vec::new();
    for _ in 0..n {
        source.next_frame(&mut frame)?;
        let Some(picture) = frame.pixels() else {
            return Err("the test pattern delivers raw pixels".into());
        };
        payload.clear();
        payload.extend_from_slice(&picture.width().to_le_bytes());
        payload.extend_from_slice(&picture.height().to_le_bytes());
        payload.extend_from_slice(picture.data());
        writer.write_frame(&payload)?;
    }
    writer.flush()?;
    Ok(())
}

/// Reads frames until the end of `input` and checks there are `n`, each a
/// whole picture carrying the next sequence number.
fn check_frames(input: impl Read, n: u64) -> Result<()> {
    let mut reader = FrameReader::new(input);
    let mut seen = 0u64;
    while let Some(payload) = reader.read_frame()? {
        let (size, pixels) = payload
            .split_at_checked(HEADER_LEN)
            .ok_or_else(|| format!("frame {seen}: shorter than its header"))?;
        let width = u32::from_le_bytes(size[..4].try_into()?);
        let height = u32::from_le_bytes(size[4..].try_into()?);
        if pixels.len() as u64 != u64::from(width) * u64::from(height) * 3 {
            let len = pixels.len();
            return Err(format!("frame {seen}: {len} bytes for a {width}x{height} picture").into());
        }
        let picture = ImageRef::new(width, height, PixelFormat::Rgb8, pixels)
            .map_err(|e| format!("frame {seen}: {e}"))?;
        match decode_marker(&picture) {
            Some(seq) if seq == seen => seen += 1,
            other => return Err(format!("frame {seen}: the picture says {other:?}").into()),
        }
    }
    if seen != n {
        return Err(format!("{seen} frames, {n} expected").into());
    }
    Ok(())
}
