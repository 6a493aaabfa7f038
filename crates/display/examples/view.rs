//! Shows JPEG files in the window, one tile each, re-sent at 30 fps so the
//! labels show a frame rate and a latency.
//!
//! ```text
//! cargo run -p framecast-display --features window --example view -- a.jpg b.jpg
//! ```
//!
//! `q` or Esc closes the window.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use framecast_display::{DisplayError, EncodedFrame, FrameSink, WindowOptions, run_window};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        return Err("usage: view FILE.jpg...".into());
    }
    let files = paths
        .iter()
        .map(|p| std::fs::read(p).map(|data| (p.clone(), data)))
        .collect::<Result<Vec<_>, _>>()?;
    let options = WindowOptions::default().with_keep_aspect(true);
    let sent = run_window(options, move |window| {
        let mut sink = window.sink();
        let period = Duration::from_millis(33);
        let mut next = Instant::now();
        let mut sequence = 0u64;
        while !window.is_closed() {
            let now_us = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64);
            for (stream, (label, jpeg)) in files.iter().enumerate() {
                let frame = EncodedFrame::new(stream as u32, label, jpeg)
                    .with_sequence(sequence)
                    .with_capture_time_us(Some(now_us));
                match sink.show(&frame) {
                    Ok(()) => {}
                    Err(DisplayError::Closed) => return sequence,
                    Err(e) => eprintln!("{e}"),
                }
            }
            sequence += 1;
            next += period;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        sequence
    })?;
    println!("sent {sent} frames per file");
    Ok(())
}
