//! Picture tiers: what a viewer asks for (`?quality=Q&width=W`, or
//! `?quality=auto`), the ladder `auto` moves along, and the controller that
//! moves it. No I/O and no clock here: the MJPEG body feeds the controller
//! each part's size and how long the connection took to drain it.
//!
//! ```text
//!  rung   picture            bytes (test pattern, 400x400 q95 source)
//!   0     the original       1.00   (never re-encoded)
//!   1     full width,  q80   0.45
//!   2     3/4 width,   q75   0.25
//!   3     1/2 width,   q70   0.14
//!   4     3/8 width,   q65   0.09
//!   5     1/4 width,   q60   0.05
//! ```
//!
//! Each rung carries about half to two thirds of the bytes of the one above,
//! so one step changes the bitrate enough to matter and a link between two
//! rungs still gets the lower one at full frame rate. Quality falls with
//! the width: a small picture at q60 looks better than a full one at q30,
//! and decodes faster on a phone.

use std::time::Duration;

/// The quality a tier gets when only `width` is asked for.
pub const DEFAULT_TIER_QUALITY: u8 = 80;

/// The narrowest tier served, in pixels.
pub const MIN_TIER_WIDTH: u32 = 16;

/// The widest `width` accepted, in pixels (a wider one than the stream's
/// own picture is served at the stream's width: tiers never upscale).
pub const MAX_TIER_WIDTH: u32 = 8192;

/// One rung of the `auto` ladder: a fraction of the picture's width and a
/// JPEG quality; rung 0 is the original bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rung {
    /// The width, as `num / den` of the picture's.
    pub num: u32,
    /// See `num`.
    pub den: u32,
    /// The JPEG quality; 0 for the original bytes.
    pub quality: u8,
    /// The bytes a picture at this rung takes, in thousandths of the
    /// original's (measured on the test pattern; used only until the rung's
    /// real size is known).
    pub expected_permille: u32,
}

/// The ladder `?quality=auto` moves each viewer along, best first.
pub const LADDER: [Rung; 6] = [
    Rung {
        num: 1,
        den: 1,
        quality: 0,
        expected_permille: 1000,
    },
    Rung {
        num: 1,
        den: 1,
        quality: 80,
        expected_permille: 450,
    },
    Rung {
        num: 3,
        den: 4,
        quality: 75,
        expected_permille: 250,
    },
    Rung {
        num: 1,
        den: 2,
        quality: 70,
        expected_permille: 140,
    },
    Rung {
        num: 3,
        den: 8,
        quality: 65,
        expected_permille: 90,
    },
    Rung {
        num: 1,
        den: 4,
        quality: 60,
        expected_permille: 50,
    },
];

/// How many recent rate measures an `auto` viewer keeps.
const RATE_SAMPLES: usize = 16;

/// The rung an `auto` viewer starts on: a small picture first (it arrives
/// quickly on any link), then up as fast as the link shows it can carry
/// more.
pub const AUTO_START_RUNG: usize = 3;

/// A re-encoded picture: the quality and the width asked for (the height
/// follows the picture's aspect). Tiers never upscale: a width beyond the
/// picture's is served at the picture's width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tier {
    /// JPEG quality, 1..=100.
    pub quality: u8,
    /// Width in pixels, at least [`MIN_TIER_WIDTH`].
    pub width: u32,
}

impl Tier {
    /// The picture's size at this tier for a `w`x`h` source: the tier's
    /// width (at most the source's), the height in proportion.
    pub fn size_for(self, w: u32, h: u32) -> (u32, u32) {
        let width = self.width.min(w).max(1);
        let height = ((u64::from(h) * u64::from(width) + u64::from(w) / 2) / u64::from(w.max(1)))
            .max(1) as u32;
        (width, height)
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "w{} q{}", self.width, self.quality)
    }
}

/// What a viewer asked for, from its query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// The stream's own bytes (no tier parameter).
    Original,
    /// A fixed tier: a quality, a width, or both.
    Fixed {
        /// `quality=Q`.
        quality: Option<u8>,
        /// `width=W`.
        width: Option<u32>,
    },
    /// `quality=auto`: moved along the ladder; `width=W` caps the rungs'
    /// width.
    Auto {
        /// `width=W`.
        max_width: Option<u32>,
    },
}

/// Why a query's tier parameters cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TierQueryError {
    /// `quality` is not `auto`, `original` or a number from 1 to 100.
    #[error("quality must be auto, original or a number from 1 to 100, not {0:?}")]
    Quality(String),
    /// `width` is not a number in range.
    #[error("width must be a number from {MIN_TIER_WIDTH} to {MAX_TIER_WIDTH}, not {0:?}")]
    Width(String),
    /// `quality=original` with a `width`.
    #[error("quality=original keeps the stream's own picture: it takes no width")]
    OriginalWidth,
}

impl Ask {
    /// Reads `quality` and `width` from a query string (other parameters
    /// are left to others). Repeated parameters: the last one counts.
    ///
    /// # Errors
    ///
    /// [`TierQueryError`] for a value that cannot be served.
    pub fn from_query(query: &str) -> Result<Self, TierQueryError> {
        let mut quality = None;
        let mut width = None;
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "quality" => quality = Some(v.into_owned()),
                "width" => width = Some(v.into_owned()),
                _ => {}
            }
        }
        let width = width
            .map(|w| match w.parse::<u32>() {
                Ok(n) if (MIN_TIER_WIDTH..=MAX_TIER_WIDTH).contains(&n) => Ok(n),
                _ => Err(TierQueryError::Width(w)),
            })
            .transpose()?;
        Ok(match quality.as_deref() {
            None if width.is_none() => Self::Original,
            None => Self::Fixed {
                quality: None,
                width,
            },
            Some("auto") => Self::Auto { max_width: width },
            Some("original") if width.is_some() => return Err(TierQueryError::OriginalWidth),
            Some("original") => Self::Original,
            Some(q) => match q.parse::<u8>() {
                Ok(n) if (1..=100).contains(&n) => Self::Fixed {
                    quality: Some(n),
                    width,
                },
                _ => return Err(TierQueryError::Quality(q.to_owned())),
            },
        })
    }

    /// The tier a fixed ask means for a picture `source_width` wide;
    /// `None` when it is the original bytes (no quality asked, and a width
    /// at least the picture's).
    pub fn fixed_tier(quality: Option<u8>, width: Option<u32>, source_width: u32) -> Option<Tier> {
        let width = width
            .unwrap_or(source_width)
            .min(source_width)
            .max(MIN_TIER_WIDTH);
        match quality {
            None if width >= source_width => None,
            q => Some(Tier {
                quality: q.unwrap_or(DEFAULT_TIER_QUALITY),
                width,
            }),
        }
    }
}

/// The tier of ladder rung `rung` for a picture `source_width` wide, with
/// the rungs' width capped at `max_width`; `None` for the original bytes.
/// Under a cap below the picture's width, rung 0 is rung 1 at the cap.
pub fn rung_tier(rung: usize, source_width: u32, max_width: Option<u32>) -> Option<Tier> {
    let base = max_width.map_or(source_width, |m| m.min(source_width));
    let r = LADDER[rung.min(LADDER.len() - 1)];
    if r.quality == 0 {
        if base >= source_width {
            return None;
        }
        return rung_tier(1, source_width, max_width);
    }
    let width = (u64::from(base) * u64::from(r.num) / u64::from(r.den)) as u32;
    Some(Tier {
        quality: r.quality,
        width: width.max(MIN_TIER_WIDTH),
    })
}

/// How an `auto` viewer's rung should change: fed one observation per part
/// sent, it answers with the rung to use from the next part on.
///
/// A part's *drain time* is from when it was handed to the connection to
/// when it had left (hyper flushed it whole into the socket, which holds at
/// most `unsent` bytes more): about its size less `unsent`, divided by the
/// rate the link carries while the link is the bottleneck, and next to
/// nothing while it is not. Against the stream's frame interval that says
/// whether the viewer keeps up; parts that took long enough to measure say
/// what the link carries (the best measure of the last
/// [`AutoTier::RATE_WINDOW`]: a stall makes one measure low, not the link
/// slow).
///
/// - **down** at once when two parts in a row drained slower than a frame
///   interval, one took three, or one was slow right after a step up: to
///   the best rung whose size fits 80 % of what the link carries per frame
///   interval, and at least one rung (so the queue empties and the age
///   stays bounded);
/// - **up** one rung when every part of the last [`AutoTier::UP_AFTER`]
///   drained in under half a frame interval and the rung above is expected
///   to fit too; parts that left at once (into a router's queue, say) say
///   nothing of the rate, so once the last measure is
///   [`AutoTier::RATE_STALE`] they allow a try. A step up undone within
///   [`AutoTier::PROBE_FAILED_WITHIN`] doubles the wait before the next try
///   (up to [`AutoTier::MAX_HOLD`]), so a link at its limit is not probed
///   every few seconds, and a stable minute resets it.
#[derive(Debug, Clone)]
pub struct AutoTier {
    rung: usize,
    /// The link's rate estimate, bytes per second (smoothed).
    rate: Option<f64>,
    /// When it was last measured (µs).
    measured_at: u64,
    /// The recent measures: when (µs) and bytes per second.
    samples: [(u64, f64); RATE_SAMPLES],
    next_sample: usize,
    slow_parts: u32,
    /// When the current run of quick parts started (µs).
    quick_since: Option<u64>,
    /// Whether every part of that run went into the socket at once (the
    /// link showed no limit, so a rate measured before may be stale).
    instant: bool,
    last_change: u64,
    last_up: Option<u64>,
    hold: Duration,
    /// The real size of each rung's newest picture, when known.
    sizes: [Option<usize>; LADDER.len()],
    /// Bytes the kernel takes at once however slow the link (the socket's
    /// unsent allowance): they say nothing about the link's rate.
    unsent: usize,
}

impl AutoTier {
    /// How long every part must drain quickly before a step up.
    pub const UP_AFTER: Duration = Duration::from_secs(2);
    /// A step down this soon after a step up means the step up failed.
    pub const PROBE_FAILED_WITHIN: Duration = Duration::from_secs(5);
    /// The longest wait between failed probes.
    pub const MAX_HOLD: Duration = Duration::from_secs(60);
    /// The share of the link's rate a rung may use.
    const HEADROOM: f64 = 0.8;
    /// Drains shorter than this say nothing about the link's rate.
    const MIN_MEASURED: Duration = Duration::from_millis(3);
    /// A rate measured longer ago than this no longer stops a step up.
    pub const RATE_STALE: Duration = Duration::from_secs(10);
    /// The measures the link's rate is the best of.
    pub const RATE_WINDOW: Duration = Duration::from_secs(2);

    /// A controller starting on `rung` at time `now_us`, for a connection
    /// whose socket takes up to `unsent` bytes at once.
    pub fn new(rung: usize, now_us: u64, unsent: usize) -> Self {
        Self {
            rung: rung.min(LADDER.len() - 1),
            rate: None,
            measured_at: now_us,
            samples: [(0, 0.0); RATE_SAMPLES],
            next_sample: 0,
            slow_parts: 0,
            quick_since: None,
            instant: true,
            last_change: now_us,
            last_up: None,
            hold: Self::UP_AFTER,
            sizes: [None; LADDER.len()],
            unsent,
        }
    }

    /// The rung in use.
    pub fn rung(&self) -> usize {
        self.rung
    }

    /// The link's rate estimate, in bytes per second, once a part has
    /// drained slowly enough to measure it.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// Tells the controller the size of a rung's newest picture (so that
    /// it compares real sizes, not expected ones).
    pub fn set_size(&mut self, rung: usize, bytes: usize) {
        if let Some(s) = self.sizes.get_mut(rung) {
            *s = Some(bytes);
        }
    }

    /// The size a rung's picture is expected to take: its real size when
    /// known, else scaled from a known rung by the ladder's ratios.
    fn expected(&self, rung: usize) -> Option<f64> {
        if let Some(s) = self.sizes[rung] {
            return Some(s as f64);
        }
        let (known, size) = self
            .sizes
            .iter()
            .enumerate()
            .find_map(|(i, s)| s.map(|s| (i, s)))?;
        Some(
            size as f64 * f64::from(LADDER[rung].expected_permille)
                / f64::from(LADDER[known].expected_permille),
        )
    }

    /// One part was sent at `now_us`: `bytes` long, drained in `drain`,
    /// while the stream's frames come every `interval`. Returns the rung
    /// for the next part.
    pub fn on_part(
        &mut self,
        now_us: u64,
        bytes: usize,
        drain: Duration,
        interval: Duration,
    ) -> usize {
        let interval = interval.clamp(Duration::from_millis(10), Duration::from_secs(1));
        let u = drain.as_secs_f64() / interval.as_secs_f64();
        // The first `unsent` bytes went into the socket at once; a part
        // that left at once (into a router's queue, say) says nothing of
        // the rate.
        let measured = bytes.saturating_sub(self.unsent);
        if measured > 0 && drain >= Self::MIN_MEASURED {
            let sample = measured as f64 / drain.as_secs_f64();
            self.samples[self.next_sample % RATE_SAMPLES] = (now_us, sample);
            self.next_sample += 1;
            self.measured_at = now_us;
        }
        // What the link carries: the best of the recent measures (a stall,
        // a lost packet's retransmission, makes one measure low; the link
        // has not become slower).
        self.rate = self
            .samples
            .iter()
            .filter(|(t, r)| *r > 0.0 && now_us.saturating_sub(*t) <= micros(Self::RATE_WINDOW))
            .map(|(_, r)| *r)
            .reduce(f64::max)
            .or(self
                .rate
                .filter(|_| now_us.saturating_sub(self.measured_at) <= micros(Self::RATE_STALE)));
        if u > 1.0 {
            self.slow_parts += 1;
            self.quick_since = None;
        } else {
            self.slow_parts = 0;
        }
        if u < 0.5 {
            if self.quick_since.is_none() {
                self.quick_since = Some(now_us);
                self.instant = true;
            }
            self.instant &= drain < Self::MIN_MEASURED;
        } else {
            self.quick_since = None;
        }
        let budget = self
            .rate
            .map(|r| r * interval.as_secs_f64() * Self::HEADROOM);
        // Right after a step up, one slow part is enough to step back.
        let probing = self
            .last_up
            .is_some_and(|t| now_us.saturating_sub(t) < micros(Self::PROBE_FAILED_WITHIN));
        if (self.slow_parts >= 2 || u > 3.0 || (probing && u > 1.0)) && self.rung + 1 < LADDER.len()
        {
            let mut next = self.rung + 1;
            if let Some(budget) = budget {
                while next + 1 < LADDER.len() && self.expected(next).is_some_and(|s| s > budget) {
                    next += 1;
                }
            }
            if self
                .last_up
                .is_some_and(|t| now_us.saturating_sub(t) < micros(Self::PROBE_FAILED_WITHIN))
            {
                self.hold = (self.hold * 2).min(Self::MAX_HOLD);
            }
            self.change(next, now_us);
            self.last_up = None;
            return self.rung;
        }
        let quick_for = self.quick_since.map_or(0, |t| now_us.saturating_sub(t));
        let held = now_us.saturating_sub(self.last_change);
        if self.rung > 0 && quick_for >= micros(Self::UP_AFTER) && held >= micros(self.hold) {
            let up = self.rung - 1;
            let stale = now_us.saturating_sub(self.measured_at) > micros(Self::RATE_STALE);
            let fits = match (budget, self.expected(up)) {
                // Parts that went out at once say nothing of the link's
                // rate now, and the last measure is old: try (the hold
                // keeps tries apart).
                _ if self.instant && stale => true,
                (Some(b), Some(s)) => s <= b,
                // Nothing measured yet: the link has not been a limit.
                _ => true,
            };
            if fits {
                self.change(up, now_us);
                self.last_up = Some(now_us);
            }
        }
        if self
            .last_up
            .is_none_or(|t| now_us.saturating_sub(t) > micros(Self::MAX_HOLD))
            && held > micros(Self::MAX_HOLD)
        {
            // Stable for a long time: the next probe need not wait long.
            self.hold = Self::UP_AFTER;
        }
        self.rung
    }

    fn change(&mut self, rung: usize, now_us: u64) {
        self.rung = rung;
        self.last_change = now_us;
        self.slow_parts = 0;
        self.quick_since = None;
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse() {
        assert_eq!(Ask::from_query(""), Ok(Ask::Original));
        assert_eq!(Ask::from_query("token=x&_=12"), Ok(Ask::Original));
        assert_eq!(Ask::from_query("quality=original"), Ok(Ask::Original));
        assert_eq!(
            Ask::from_query("quality=60&width=320"),
            Ok(Ask::Fixed {
                quality: Some(60),
                width: Some(320)
            })
        );
        assert_eq!(
            Ask::from_query("width=320"),
            Ok(Ask::Fixed {
                quality: None,
                width: Some(320)
            })
        );
        assert_eq!(
            Ask::from_query("quality=auto"),
            Ok(Ask::Auto { max_width: None })
        );
        assert_eq!(
            Ask::from_query("quality=auto&width=480"),
            Ok(Ask::Auto {
                max_width: Some(480)
            })
        );
        for bad in ["quality=0", "quality=101", "quality=high", "quality="] {
            assert!(
                matches!(Ask::from_query(bad), Err(TierQueryError::Quality(_))),
                "{bad}"
            );
        }
        for bad in [
            "width=0",
            "width=15",
            "width=99999",
            "width=-3",
            "width=1e3",
        ] {
            assert!(
                matches!(Ask::from_query(bad), Err(TierQueryError::Width(_))),
                "{bad}"
            );
        }
        assert_eq!(
            Ask::from_query("quality=original&width=100"),
            Err(TierQueryError::OriginalWidth)
        );
    }

    #[test]
    fn fixed_tiers_never_upscale_and_a_full_width_without_quality_is_the_original() {
        assert_eq!(Ask::fixed_tier(None, Some(800), 400), None);
        assert_eq!(Ask::fixed_tier(None, Some(400), 400), None);
        assert_eq!(
            Ask::fixed_tier(None, Some(200), 400),
            Some(Tier {
                quality: DEFAULT_TIER_QUALITY,
                width: 200
            })
        );
        assert_eq!(
            Ask::fixed_tier(Some(50), Some(800), 400),
            Some(Tier {
                quality: 50,
                width: 400
            })
        );
        assert_eq!(
            Ask::fixed_tier(Some(50), None, 640),
            Some(Tier {
                quality: 50,
                width: 640
            })
        );
        assert_eq!(
            Tier {
                quality: 50,
                width: 320
            }
            .size_for(640, 480),
            (320, 240)
        );
        assert_eq!(
            Tier {
                quality: 50,
                width: 999
            }
            .size_for(640, 480),
            (640, 480)
        );
        assert_eq!(
            Tier {
                quality: 50,
                width: 101
            }
            .size_for(400, 300),
            (101, 76)
        );
    }

    #[test]
    fn rungs_follow_the_picture_and_the_cap() {
        assert_eq!(rung_tier(0, 400, None), None);
        assert_eq!(
            rung_tier(1, 400, None),
            Some(Tier {
                quality: 80,
                width: 400
            })
        );
        assert_eq!(
            rung_tier(3, 400, None),
            Some(Tier {
                quality: 70,
                width: 200
            })
        );
        assert_eq!(
            rung_tier(5, 400, None),
            Some(Tier {
                quality: 60,
                width: 100
            })
        );
        // A cap wider than the picture changes nothing.
        assert_eq!(rung_tier(0, 400, Some(480)), None);
        // Under a cap, the top rung is the cap at rung 1's quality.
        assert_eq!(
            rung_tier(0, 1920, Some(480)),
            Some(Tier {
                quality: 80,
                width: 480
            })
        );
        assert_eq!(
            rung_tier(3, 1920, Some(480)),
            Some(Tier {
                quality: 70,
                width: 240
            })
        );
        // Never narrower than the smallest tier.
        assert_eq!(
            rung_tier(5, 40, None),
            Some(Tier {
                quality: 60,
                width: MIN_TIER_WIDTH
            })
        );
        // Each rung carries less than the one above.
        for pair in LADDER.windows(2) {
            assert!(pair[1].expected_permille < pair[0].expected_permille);
        }
    }

    /// A simulated link: `rate` bytes a second, frames every 33 ms, rung
    /// sizes in proportion to the ladder from a 50 KB original. Returns the
    /// rung after `seconds`.
    fn run(auto: &mut AutoTier, t: &mut u64, rate: f64, seconds: u64) -> usize {
        let interval = Duration::from_micros(33_333);
        let end = *t + seconds * 1_000_000;
        while *t < end {
            let rung = auto.rung();
            let bytes = 50_000 * LADDER[rung].expected_permille as usize / 1000;
            auto.set_size(rung, bytes);
            // The socket takes 4 KiB at once; the rest drains at the rate.
            let drain = Duration::from_secs_f64(bytes.saturating_sub(4096) as f64 / rate);
            // The next part goes when this one has drained, at the
            // earliest at the next frame.
            auto.on_part(*t, bytes, drain, interval);
            *t += micros(drain.max(interval));
        }
        auto.rung()
    }

    #[test]
    fn a_slow_link_falls_to_a_rung_it_carries_at_full_rate_and_climbs_back() {
        let mut t = 0;
        let mut auto = AutoTier::new(0, t, 4096);
        // 2 Mbit/s: 250 kB/s, 8.3 kB per frame interval.
        let rung = run(&mut auto, &mut t, 250_000.0, 10);
        let size = 50_000 * LADDER[rung].expected_permille as usize / 1000;
        assert!(
            size as f64 <= 250_000.0 / 30.0,
            "rung {rung} ({size} B) overflows the link"
        );
        assert!(rung <= 4, "rung {rung} is lower than the link needs");
        // The link recovers: back to the original within a few probes.
        let rung = run(&mut auto, &mut t, 100_000_000.0, 30);
        assert_eq!(rung, 0);
    }

    #[test]
    fn a_link_at_its_limit_is_not_probed_every_few_seconds() {
        let mut t = 0;
        let mut auto = AutoTier::new(AUTO_START_RUNG, t, 4096);
        let mut changes = 0;
        let mut last = auto.rung();
        let interval = Duration::from_micros(33_333);
        // 4 Mbit/s for two minutes.
        for _ in 0..3600 {
            let rung = auto.rung();
            let bytes = 50_000 * LADDER[rung].expected_permille as usize / 1000;
            auto.set_size(rung, bytes);
            let drain = Duration::from_secs_f64(bytes.saturating_sub(4096) as f64 / 500_000.0);
            auto.on_part(t, bytes, drain, interval);
            t += micros(drain.max(interval));
            if auto.rung() != last {
                changes += 1;
                last = auto.rung();
            }
        }
        assert_eq!(
            auto.rung(),
            2,
            "4 Mbit/s carries rung 2 (12.5 kB) at 30 fps"
        );
        assert!(changes <= 10, "{changes} rung changes in two minutes");
    }
}
