//! Values and flag groups more than one command takes: picture sizes,
//! byte sizes in human units, seconds, addresses, `-q`, and the access
//! flags of servers and clients ([`auth`]).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use framecast_net::HostPort;

pub(crate) mod auth;
pub(crate) mod receiver;
pub(crate) mod sender;

/// The largest width or height accepted on the command line.
pub(crate) const MAX_DIMENSION: u32 = 16_384;

/// The longest duration, in seconds, any flag takes (a day).
pub(crate) const MAX_SECONDS: f64 = 86_400.0;

/// `-q`, for the commands that print a stats line.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct Quiet {
    /// No stats line and only warnings in the log (RUST_LOG still wins).
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

/// A picture size, `WIDTHxHEIGHT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Size {
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl FromStr for Size {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (w, h) = s
            .split_once(['x', 'X'])
            .ok_or_else(|| format!("expected WIDTHxHEIGHT, got {s:?}"))?;
        let parse = |v: &str| {
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_DIMENSION).contains(n))
                .ok_or_else(|| format!("{v:?} is not a size between 1 and {MAX_DIMENSION}"))
        };
        Ok(Size {
            width: parse(w)?,
            height: parse(h)?,
        })
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// A pixel count: `WIDTHxHEIGHT` or a plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pixels(pub(crate) u64);

impl FromStr for Pixels {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(n) = s.trim().parse::<u64>() {
            return if n == 0 {
                Err("the pixel limit must be at least 1".into())
            } else {
                Ok(Pixels(n))
            };
        }
        let size: Size = s.parse()?;
        Ok(Pixels(u64::from(size.width) * u64::from(size.height)))
    }
}

/// A size in bytes, written and shown in human units: `8MiB`, `8 MiB`,
/// `64KiB`, `8388608`. `KiB`/`MiB`/`GiB` (and `K`/`M`/`G`, as dd reads
/// them) are powers of 1024; `kB`/`MB`/`GB` powers of 1000. Shown in the
/// largest unit that divides it exactly (`8 MiB`, `1000 B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteSize(pub(crate) u64);

/// The units a [`ByteSize`] is written in, largest first.
const BYTE_UNITS: [(&str, u64); 11] = [
    ("gib", 1 << 30),
    ("g", 1 << 30),
    ("gb", 1_000_000_000),
    ("mib", 1 << 20),
    ("m", 1 << 20),
    ("mb", 1_000_000),
    ("kib", 1 << 10),
    ("k", 1 << 10),
    ("kb", 1_000),
    ("b", 1),
    ("", 1),
];

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(digits);
        let unit = unit.trim().to_ascii_lowercase();
        let number: u64 = number
            .parse()
            .map_err(|_| format!("expected a size such as 8MiB or 65536, got {s:?}"))?;
        let scale = BYTE_UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(|| format!("{s:?}: the unit must be B, KiB, MiB or GiB (or kB, MB, GB)"))?;
        number
            .checked_mul(scale)
            .map(ByteSize)
            .ok_or_else(|| format!("{s:?} is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
        match units
            .iter()
            .find(|(_, scale)| self.0 >= *scale && self.0.is_multiple_of(*scale))
        {
            Some((name, scale)) => write!(f, "{} {name}", self.0 / scale),
            None => write!(f, "{} B", self.0),
        }
    }
}

impl ByteSize {
    /// The size as a `usize`, or an error naming `flag` on a 32-bit
    /// machine that cannot hold it.
    pub(crate) fn to_usize(self, flag: &str) -> Result<usize> {
        usize::try_from(self.0).map_err(|_| anyhow::anyhow!("{flag} {self} is too large here"))
    }
}

/// Seconds from the command line as a duration, from a millisecond to a
/// day.
pub(crate) fn seconds(flag: &str, s: f64) -> Result<Duration> {
    if !(s.is_finite() && (0.001..=MAX_SECONDS).contains(&s)) {
        anyhow::bail!("{flag} must be between 0.001 and {MAX_SECONDS} seconds, not {s}");
    }
    Ok(Duration::from_secs_f64(s))
}

/// Seconds from the command line where 0 means never: `None`.
pub(crate) fn seconds_or_never(flag: &str, s: f64) -> Result<Option<Duration>> {
    if s == 0.0 {
        return Ok(None);
    }
    seconds(flag, s).map(Some)
}

/// clap's parser of an address to listen on, `default_port` when only a
/// host is given.
pub(crate) fn listen_addr(default_port: u16) -> impl Fn(&str) -> Result<HostPort, String> + Clone {
    move |s| HostPort::parse_listen(s, default_port).map_err(|e| e.to_string())
}

/// clap's parser of an address to connect to.
pub(crate) fn connect_addr(default_port: u16) -> impl Fn(&str) -> Result<HostPort, String> + Clone {
    move |s| HostPort::parse_connect(s, default_port).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_read_and_show_human_units() {
        for (text, bytes) in [
            ("8MiB", 8 << 20),
            ("8 MiB", 8 << 20),
            ("8mib", 8 << 20),
            ("8M", 8 << 20),
            ("8MB", 8_000_000),
            ("64KiB", 65_536),
            ("64 kB", 64_000),
            ("8388608", 8 << 20),
            ("1GiB", 1 << 30),
            ("12B", 12),
        ] {
            assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(bytes)), "{text}");
        }
        assert_eq!(ByteSize(8 << 20).to_string(), "8 MiB");
        assert_eq!(ByteSize(65_536).to_string(), "64 KiB");
        assert_eq!(ByteSize(1000).to_string(), "1000 B");
        assert_eq!(ByteSize(1536).to_string(), "1536 B");
        assert_eq!(ByteSize(3 << 30).to_string(), "3 GiB");
        for bad in ["", "MiB", "8 parsecs", "-1", "1.5MiB", "99999999999GiB"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad}");
        }
        // What is shown reads back as the same size.
        for n in [1u64, 1000, 1024, 8 << 20, 5 << 30] {
            assert_eq!(ByteSize(n).to_string().parse::<ByteSize>(), Ok(ByteSize(n)));
        }
    }

    #[test]
    fn seconds_are_bounded() {
        assert_eq!(seconds("--x", 1.5).unwrap(), Duration::from_millis(1500));
        assert!(seconds("--x", 0.0).is_err());
        assert!(seconds("--x", f64::NAN).is_err());
        assert!(seconds("--x", 1e9).is_err());
        assert_eq!(seconds_or_never("--x", 0.0).unwrap(), None);
    }
}
