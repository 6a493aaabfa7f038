//! `framecast devices`: the cameras and their formats.

use anyhow::Result;

use crate::flags::sender::capture_hint;
use crate::output::out;
use crate::report::hinted;

/// `framecast devices --help`'s examples.
pub(crate) const EXAMPLES: &str = "\
Examples:
  framecast devices                                   then, with a camera found:
  framecast send --to 5252 --source camera:0 --preview
";

/// Runs `framecast devices`.
pub(crate) fn run() -> Result<()> {
    let devices = framecast_capture::list_devices().map_err(|e| {
        let hint = capture_hint(&e);
        hinted(anyhow::Error::new(e).context("cannot list cameras"), hint)
    })?;
    if devices.is_empty() {
        out(format_args!("no camera found; try --source pattern\n"))?;
    }
    for d in devices {
        out(format_args!(
            "{}: {} ({})\n",
            d.index, d.name, d.description
        ))?;
        if d.modes.is_empty() {
            out(format_args!(
                "    (its modes could not be read: busy or no permission)\n"
            ))?;
        }
        for m in &d.modes {
            out(format_args!("    {m}\n"))?;
        }
    }
    Ok(())
}
