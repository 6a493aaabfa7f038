//! Choosing a source from the command line: [`SourceSpec`] parses
//! `pattern`, `camera[:INDEX|:NAME]`, `raw:PATH` or `mjpeg:PATH`, and
//! [`open_source`] opens it, paced, in one call.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use crate::{
    CameraRequest, CameraSelector, CameraSource, CaptureError, Clock, FrameSource, MjpegFileSource,
    Paced, PatternSource, RawFileSource, SourceLimits, SystemClock,
};

/// Which source to open, as a user writes it.
///
/// ```
/// use framecast_capture::{CameraSelector, SourceSpec};
///
/// assert_eq!("pattern".parse::<SourceSpec>()?, SourceSpec::Pattern);
/// assert_eq!("camera:1".parse::<SourceSpec>()?, SourceSpec::Camera(CameraSelector::Index(1)));
/// let spec: SourceSpec = "mjpeg:clip.mjpeg".parse()?;
/// assert_eq!(spec.to_string(), "mjpeg:clip.mjpeg");
/// assert!("webcam".parse::<SourceSpec>().is_err());
/// # Ok::<(), framecast_capture::CaptureError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SourceSpec {
    /// `pattern`: the synthetic test pattern (the default).
    #[default]
    Pattern,
    /// `camera` (the first), `camera:INDEX` or `camera:NAME`.
    Camera(CameraSelector),
    /// `raw:PATH`: raw RGB24 frames of the size in [`SourceOptions`].
    Raw(PathBuf),
    /// `mjpeg:PATH`: concatenated JPEGs.
    Mjpeg(PathBuf),
}

impl FromStr for SourceSpec {
    type Err = CaptureError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| CaptureError::InvalidSpec {
            input: input.to_owned(),
            reason,
        };
        let (kind, arg) = match input.split_once(':') {
            Some((kind, arg)) => (kind, Some(arg)),
            None => (input, None),
        };
        match (kind, arg) {
            ("pattern", None) => Ok(Self::Pattern),
            ("pattern", Some(_)) => Err(invalid("pattern takes no argument")),
            ("camera", None) => Ok(Self::Camera(CameraSelector::default())),
            ("camera", Some("")) => Err(invalid("empty camera index or name")),
            ("camera", Some(arg)) => Ok(Self::Camera(match arg.parse::<u32>() {
                Ok(index) => CameraSelector::Index(index),
                Err(_) => CameraSelector::Name(arg.to_owned()),
            })),
            ("raw" | "mjpeg", None | Some("")) => {
                Err(invalid("a file path is needed after the colon"))
            }
            ("raw", Some(path)) => Ok(Self::Raw(path.into())),
            ("mjpeg", Some(path)) => Ok(Self::Mjpeg(path.into())),
            ("", _) => Err(invalid("empty source")),
            _ => Err(invalid("unknown source kind")),
        }
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pattern => f.write_str("pattern"),
            Self::Camera(CameraSelector::Index(0)) => f.write_str("camera"),
            Self::Camera(selector) => write!(f, "camera:{selector}"),
            Self::Raw(path) => write!(f, "raw:{}", path.display()),
            Self::Mjpeg(path) => write!(f, "mjpeg:{}", path.display()),
        }
    }
}

/// The default [`SourceOptions::width`].
pub const DEFAULT_WIDTH: u32 = 640;
/// The default [`SourceOptions::height`].
pub const DEFAULT_HEIGHT: u32 = 480;
/// The default [`SourceOptions::fps`].
pub const DEFAULT_FPS: u32 = 30;

/// How to open a source.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SourceOptions {
    /// The pattern's width, a raw file's frame width, or the width to ask a
    /// camera for. MJPEG files carry their own size.
    pub width: u32,
    /// The height, likewise.
    pub height: u32,
    /// Frames per second: file and pattern sources are paced to it; a camera
    /// is asked for it. 0 means as fast as possible.
    pub fps: u32,
    /// Whether a camera's MJPEG wins over its raw modes (see
    /// [`choose_mode`](crate::choose_mode)).
    pub prefer_mjpeg: bool,
    /// Bounds on sizes.
    pub limits: SourceLimits,
    /// Whether file sources start again after their last frame (else they
    /// end).
    pub looping: bool,
    /// The clock that paces and stamps frames.
    pub clock: Arc<dyn Clock>,
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self::new(DEFAULT_WIDTH, DEFAULT_HEIGHT)
    }
}

impl SourceOptions {
    /// Options for `width` x `height` at [`DEFAULT_FPS`], on the system clock.
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            fps: DEFAULT_FPS,
            prefer_mjpeg: true,
            limits: SourceLimits::default(),
            looping: false,
            clock: SystemClock::shared(),
        }
    }

    /// Sets [`SourceOptions::looping`].
    pub fn with_looping(mut self, looping: bool) -> Self {
        self.looping = looping;
        self
    }

    /// Sets [`SourceOptions::fps`].
    pub fn with_fps(mut self, fps: u32) -> Self {
        self.fps = fps;
        self
    }

    /// Sets [`SourceOptions::clock`].
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets [`SourceOptions::limits`].
    pub fn with_limits(mut self, limits: SourceLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`SourceOptions::prefer_mjpeg`].
    pub fn with_prefer_mjpeg(mut self, prefer: bool) -> Self {
        self.prefer_mjpeg = prefer;
        self
    }
}

/// Opens the source `spec` names. Pattern and file sources come wrapped in
/// [`Paced`] at [`SourceOptions::fps`]; a camera is opened at that rate and
/// paced by its driver.
///
/// ```
/// use framecast_capture::{Frame, SourceOptions, open_source};
///
/// let options = SourceOptions::new(320, 240).with_fps(0);
/// let mut source = open_source(&"pattern".parse()?, &options)?;
/// let mut frame = Frame::default();
/// source.next_frame(&mut frame)?;
/// assert_eq!((frame.width(), frame.height()), (320, 240));
/// # Ok::<(), framecast_capture::CaptureError>(())
/// ```
pub fn open_source(
    spec: &SourceSpec,
    options: &SourceOptions,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    let clock = Arc::clone(&options.clock);
    let paced = |source| -> Box<dyn FrameSource> {
        Box::new(Paced::new(source, options.fps, Arc::clone(&clock)))
    };
    Ok(match spec {
        SourceSpec::Pattern => paced(Box::new(
            PatternSource::with_limits(options.width, options.height, &options.limits)?
                .with_clock(Arc::clone(&clock)),
        ) as Box<dyn FrameSource>),
        SourceSpec::Raw(path) => paced(Box::new(
            RawFileSource::open_with_limits(path, options.width, options.height, &options.limits)?
                .with_clock(Arc::clone(&clock))
                .looping(options.looping),
        )),
        SourceSpec::Mjpeg(path) => paced(Box::new(
            MjpegFileSource::open_with_limits(path, &options.limits)?
                .with_clock(Arc::clone(&clock))
                .looping(options.looping),
        )),
        SourceSpec::Camera(selector) => {
            let request = CameraRequest::new(options.width, options.height, options.fps)
                .with_prefer_mjpeg(options.prefer_mjpeg);
            Box::new(CameraSource::open(selector, &request, clock)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_round_trips() {
        let cases = [
            ("pattern", SourceSpec::Pattern),
            ("camera", SourceSpec::Camera(CameraSelector::Index(0))),
            ("camera:2", SourceSpec::Camera(CameraSelector::Index(2))),
            (
                "camera:HD Webcam",
                SourceSpec::Camera(CameraSelector::Name("HD Webcam".into())),
            ),
            ("raw:/tmp/a b.rgb", SourceSpec::Raw("/tmp/a b.rgb".into())),
            ("mjpeg:c:/x.mjpeg", SourceSpec::Mjpeg("c:/x.mjpeg".into())),
        ];
        for (text, spec) in cases {
            assert_eq!(text.parse::<SourceSpec>().unwrap(), spec, "{text}");
            assert_eq!(spec.to_string().parse::<SourceSpec>().unwrap(), spec);
        }
        assert_eq!(
            SourceSpec::Camera(CameraSelector::Index(0)).to_string(),
            "camera"
        );
    }

    #[test]
    fn rejects_bad_specs_with_the_reason() {
        for (text, reason) in [
            ("", "empty source"),
            ("webcam", "unknown source kind"),
            ("raw", "a file path is needed"),
            ("mjpeg:", "a file path is needed"),
            ("camera:", "empty camera"),
            ("pattern:5", "no argument"),
        ] {
            let err = text.parse::<SourceSpec>().unwrap_err();
            let message = err.to_string();
            assert!(matches!(err, CaptureError::InvalidSpec { .. }));
            assert!(message.contains(reason), "{text}: {message}");
            assert!(message.contains("mjpeg:PATH"), "{message}");
        }
    }

    #[test]
    fn opens_the_pattern_paced_by_the_given_clock() {
        let clock = crate::ManualClock::new(5_000_000);
        let options = SourceOptions::new(64, 48)
            .with_fps(20)
            .with_clock(Arc::new(clock.clone()));
        let mut source = open_source(&SourceSpec::Pattern, &options).unwrap();
        let mut frame = crate::Frame::default();
        for _ in 0..3 {
            source.next_frame(&mut frame).unwrap();
        }
        assert_eq!(frame.sequence, 2);
        assert_eq!(frame.capture_time_us, 5_100_000);
        assert!(!source.format().live);
    }

    #[test]
    fn bad_options_and_missing_files_are_errors() {
        let options = SourceOptions::new(0, 48);
        assert!(matches!(
            open_source(&SourceSpec::Pattern, &options),
            Err(CaptureError::InvalidSize { .. })
        ));
        let err = open_source(
            &SourceSpec::Mjpeg("/nonexistent/x.mjpeg".into()),
            &SourceOptions::default(),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("/nonexistent/x.mjpeg"), "{err}");
    }
}
