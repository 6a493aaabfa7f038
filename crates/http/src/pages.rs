//! The pages: the camera wall (`/`), a stream's page, the login form; and
//! their script and style sheet (`assets/`, served as they are).
//!
//! The pages work without the script (the wall shows a snapshot per
//! stream, the stream page the live MJPEG); the script makes the wall's
//! tiles live, draws the stream page's picture from the MJPEG parts (so it
//! can say how old the picture on screen is), and refreshes every figure
//! from `/stats.json` once a second. Names come from senders, so they are
//! escaped in HTML and set as text (never as markup) by the script; the
//! pages' Content-Security-Policy allows scripts and styles from this
//! server only, and no inline script or style.

use std::fmt::Write as _;

use framecast_stream::StreamHandle;

use super::tier::LADDER;

/// How often the pages refresh their figures, in milliseconds.
const REFRESH_MS: u32 = 1000;

/// The width of a wall tile's snapshot when the page runs without its
/// script.
const STATIC_TILE_WIDTH: u32 = 480;

/// The pages' script.
pub(crate) const SCRIPT: &str = include_str!("../assets/viewer.js");

/// The pages' style sheet.
pub(crate) const STYLE: &str = include_str!("../assets/viewer.css");

/// `s` with the characters that mean something in HTML escaped, and the
/// invisible ones (control, bidirectional, zero-width: see
/// [`framecast_net::is_invisible`]) written as character references, so
/// that the page's source holds none of them raw while an attribute's value
/// stays exact.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if framecast_net::is_invisible(c) => {
                let _ = write!(out, "&#x{:x};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// A stream's name as page text: its control, bidirectional and zero-width
/// characters made visible escapes (as everywhere a name is shown), then
/// escaped for HTML. Where the exact name is data (the page's
/// `data-name`, links), it is only escaped for HTML.
pub(crate) fn shown(name: &str) -> String {
    escape(&framecast_net::printable(name))
}

/// `name` as one path segment: everything but unreserved characters
/// percent-encoded.
pub(crate) fn path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The stable address of a stream's page (its MJPEG and snapshot add
/// `.mjpg` and `.jpg`): by name, so it outlives a reconnect.
pub(crate) fn by_name(name: &str) -> String {
    format!("/streams/by-name/{}", path_segment(name))
}

fn head(title: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<link rel=\"stylesheet\" href=\"/assets/viewer.css\">\n\
         <script src=\"/assets/viewer.js\" defer></script>\n</head>\n",
        escape(title)
    )
}

fn top(status: &str) -> String {
    format!(
        "<header class=\"top\">\n<h1><a href=\"/\">framecast</a></h1>\n\
         <p class=\"status\" id=\"status\">{}</p>\n<p class=\"links\"><a href=\"/stats.json\">\
         stats.json</a> · <a href=\"/metrics\">metrics</a></p>\n</header>\n",
        escape(status)
    )
}

/// `/login`: the access token form (no script: it works with scripts off).
pub(crate) fn login(error: Option<&str>) -> String {
    let mut page = String::from(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>log in · framecast</title>\n\
         <link rel=\"stylesheet\" href=\"/assets/viewer.css\">\n</head>\n\
         <body data-page=\"login\">\n<header class=\"top\"><h1>framecast</h1></header>\n<main>\n",
    );
    if let Some(error) = error {
        let _ = writeln!(
            page,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(error)
        );
    }
    page.push_str(
        "<form method=\"post\" action=\"/login\">\n<p>This receiver asks for its \
         access token.</p>\n<label for=\"token\">Access token</label>\n<input id=\"token\" \
         name=\"token\" type=\"password\" autocomplete=\"current-password\" required \
         autofocus>\n<button type=\"submit\">Watch</button>\n</form>\n</main>\n</body>\n\
         </html>\n",
    );
    page
}

fn count(n: usize) -> String {
    match n {
        0 => "No live streams: waiting for senders.".to_owned(),
        1 => "1 live stream".to_owned(),
        n => format!("{n} live streams"),
    }
}

/// `/`: the camera wall, a tile per live stream.
pub(crate) fn wall(streams: &[StreamHandle]) -> String {
    let mut page = head("framecast");
    let _ = write!(
        page,
        "<body data-page=\"wall\" data-refresh=\"{REFRESH_MS}\"{}>\n{}<main>\n<div id=\"wall\">\n",
        if streams.is_empty() {
            " class=\"empty\""
        } else {
            ""
        },
        top(&count(streams.len()))
    );
    for s in streams {
        let name = shown(s.name());
        let link = by_name(s.name());
        let size = s
            .latest()
            .map(|f| (f.width(), f.height()))
            .map(|(w, h)| (format!(" width=\"{w}\" height=\"{h}\""), format!("{w}×{h}")))
            .unwrap_or_default();
        let _ = writeln!(
            page,
            "<a class=\"tile static\" href=\"{link}\"><div class=\"pic\"><img \
             src=\"/streams/{id}.jpg?width={STATIC_TILE_WIDTH}&amp;quality=70\" alt=\"{name}\"{}>\
             </div><div class=\"cap\"><h2>{name}</h2><p class=\"figures\">{}</p></div></a>",
            size.0,
            size.1,
            id = s.id()
        );
    }
    page.push_str("</div>\n</main>\n</body>\n</html>\n");
    page
}

/// A figure of the stream page: its label, the element the script fills,
/// and what it means.
fn figure(page: &mut String, label: &str, id: &str, meaning: &str) {
    let _ = writeln!(
        page,
        "<dt>{label}</dt><dd><span id=\"{id}\">–</span><small>{meaning}</small></dd>"
    );
}

/// `/streams/{id}` and `/streams/by-name/{name}`: the stream live, fitted
/// to the window, with what each figure means and graphs of the last
/// minutes.
pub(crate) fn stream(stream: &StreamHandle) -> String {
    let id = stream.id();
    let exact = escape(stream.name());
    let name = shown(stream.name());
    let base = by_name(stream.name());
    let mut page = head(&format!(
        "{} · framecast",
        framecast_net::printable(stream.name())
    ));
    // The picture's size, when a frame has come, so the page does not
    // jump when the first one is drawn.
    let size = stream
        .latest()
        .map(|f| format!(" width=\"{}\" height=\"{}\"", f.width(), f.height()))
        .unwrap_or_default();
    let _ = write!(
        page,
        "<body data-page=\"stream\" data-stream=\"{id}\" data-name=\"{exact}\" \
         data-mjpg=\"{base}.mjpg\" data-refresh=\"{REFRESH_MS}\">\n{}\
         <main class=\"watch\">\n<div id=\"stage\">\n<canvas id=\"live\" role=\"img\" \
         aria-label=\"{name}, live\"{size}></canvas>\n<noscript><img src=\"{base}.mjpg\" \
         alt=\"{name}, live\"{size}></noscript>\n<div class=\"controls\">\n\
         <select id=\"tier\" aria-label=\"Picture quality\">\n\
         <option value=\"auto\" selected>auto</option>\n\
         <option value=\"original\">original</option>\n",
        top(&framecast_net::printable(stream.name()))
    );
    for r in LADDER.iter().skip(1) {
        let _ = writeln!(
            page,
            "<option value=\"{}\">quality {}</option>",
            r.quality, r.quality
        );
    }
    page.push_str(
        "</select>\n<button id=\"fit\" type=\"button\">Actual size</button>\n\
         <button id=\"fullscreen\" type=\"button\">Full screen</button>\n</div>\n</div>\n\
         <section id=\"panel\">\n",
    );
    let _ = writeln!(page, "<h2>{name}</h2>\n<p id=\"state\">connecting…</p>");
    page.push_str(
        "<h3>The last minutes</h3>\n\
         <canvas class=\"graph\" id=\"graph-fps\" role=\"img\" aria-label=\"frames per second, \
         last minutes\"></canvas>\n<p class=\"legend\">frames a second: <span \
         class=\"series-a\">■ stream</span> <span class=\"series-b\">■ this page</span></p>\n\
         <canvas class=\"graph\" id=\"graph-latency\" role=\"img\" aria-label=\"latency and \
         picture age, last minutes\"></canvas>\n<p class=\"legend\">milliseconds: <span \
         class=\"series-a\">■ latency to the receiver</span> <span class=\"series-b\">■ picture \
         age here</span></p>\n<canvas class=\"graph\" id=\"graph-bitrate\" role=\"img\" \
         aria-label=\"bitrate, last minutes\"></canvas>\n<p class=\"legend\">bits a second: \
         <span class=\"series-a\">■ stream</span> <span class=\"series-b\">■ this page</span>\
         </p>\n",
    );
    page.push_str("<h3>On this screen</h3>\n<dl class=\"figures\">\n");
    figure(
        &mut page,
        "Picture age",
        "age",
        "How old the picture you see is: from the camera's capture to now, on the \
         receiver's clock.",
    );
    figure(
        &mut page,
        "Frame rate",
        "page-fps",
        "Pictures a second reaching this page.",
    );
    figure(
        &mut page,
        "Quality",
        "tier-now",
        "The picture's size and JPEG quality sent to this page. Auto picks what your \
         connection carries without falling behind.",
    );
    figure(
        &mut page,
        "Data rate",
        "page-bitrate",
        "What this page receives a second.",
    );
    figure(
        &mut page,
        "Skipped here",
        "skipped",
        "Frames of the stream this page did not get because its connection was busy: the \
         newest is always sent next, so the picture stays fresh.",
    );
    page.push_str("</dl>\n<h3>The stream</h3>\n<dl class=\"figures\">\n");
    figure(
        &mut page,
        "Resolution",
        "stream-size",
        "The size of the pictures the camera sends.",
    );
    figure(
        &mut page,
        "Frame rate",
        "stream-fps",
        "Pictures a second the receiver gets from the camera.",
    );
    figure(
        &mut page,
        "JPEG quality",
        "stream-quality",
        "The quality the sender encodes at now (1–100): a sender that adapts lowers it \
         when its link cannot carry more, and never goes above its own setting or what was \
         asked below.",
    );
    figure(
        &mut page,
        "Bitrate",
        "stream-bitrate",
        "What the camera sends a second.",
    );
    figure(
        &mut page,
        "Link",
        "link-rate",
        "What the sender estimates its link to the receiver carries (a sender that adapts, \
         once it knows).",
    );
    figure(
        &mut page,
        "Latency",
        "latency",
        "From capture to the receiver (median of the recent frames).",
    );
    figure(
        &mut page,
        "Watching",
        "viewers",
        "People and programs watching this stream now.",
    );
    figure(
        &mut page,
        "Connected for",
        "uptime",
        "Since the camera's sender connected.",
    );
    figure(
        &mut page,
        "Sender",
        "sender",
        "Whether the sender adapts to its link, and what it was asked to keep within.",
    );
    page.push_str("</dl>\n");
    // The sender's settings, asked at run time (the script shows them when
    // the sender can be asked; without it, nothing here works).
    page.push_str(
        "<section id=\"ask\" hidden>\n<h3>Ask the sender</h3>\n<p class=\"note\" \
         id=\"ask-note\">Ceilings for the sender: it sends at most this quality, size and frame \
         rate from its next frame on (less when its link needs it). Empty: its own \
         setting.</p>\n<div class=\"ask-fields\" id=\"ask-fields\">\n<label>Quality <input \
         id=\"ask-quality\" type=\"number\" min=\"1\" max=\"100\" step=\"1\" \
         placeholder=\"own\"></label>\n<label>Width <input id=\"ask-width\" type=\"number\" \
         min=\"1\" step=\"1\" placeholder=\"own\"></label>\n<label>Height <input \
         id=\"ask-height\" type=\"number\" min=\"1\" step=\"1\" placeholder=\"own\"></label>\n\
         <label>Frames a second <input id=\"ask-fps\" type=\"number\" min=\"1\" step=\"1\" \
         placeholder=\"own\"></label>\n<button id=\"ask-apply\" type=\"button\">Apply</button>\n\
         <button id=\"ask-reset\" type=\"button\">Its own settings</button>\n</div>\n\
         <p id=\"ask-result\" role=\"status\"></p>\n</section>\n",
    );
    let _ = write!(
        page,
        "<p class=\"links\"><a href=\"/\">all streams</a> · <a href=\"{base}.jpg\">snapshot</a> \
         · <a href=\"{base}.mjpg\">MJPEG</a> · stream {id}</p>\n</section>\n</main>\n</body>\n\
         </html>\n"
    );
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped() {
        assert_eq!(
            escape(r#"<img src=x onerror="alert('1')">&"#),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;"
        );
        assert_eq!(escape("door cam"), "door cam");
        // Exact as a value, never raw in the source.
        assert_eq!(escape("a\u{202e}b\u{200b}"), "a&#x202e;b&#x200b;");
        // Shown: invisible characters made visible, then HTML-escaped.
        assert_eq!(
            shown("a\u{202e}<b\u{200b}\u{1b}"),
            "a\\u{202e}&lt;b\\u{200b}\\u{1b}"
        );
    }

    #[test]
    fn names_become_one_path_segment() {
        assert_eq!(by_name("door"), "/streams/by-name/door");
        assert_eq!(
            by_name("door cam/1?x"),
            "/streams/by-name/door%20cam%2F1%3Fx"
        );
        assert_eq!(by_name("café"), "/streams/by-name/caf%C3%A9");
    }

    #[test]
    fn pages_carry_no_inline_script_or_style() {
        for page in [wall(&[]), login(Some("wrong")), login(None)] {
            assert!(!page.contains("<script>"), "{page}");
            assert!(!page.contains("style="), "{page}");
            assert!(!page.contains("<style"), "{page}");
            // No event-handler attribute (` onload=`, ` onerror=`, ...).
            assert!(
                !page.split(" on").skip(1).any(|rest| {
                    let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
                    !name.is_empty() && rest[name.len()..].starts_with('=')
                }),
                "{page}"
            );
        }
    }
}
