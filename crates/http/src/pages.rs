//! The two pages, their script and their style sheet.
//!
//! The pages are complete without the script (the list of streams, the live
//! picture); the script refreshes the list and the stats from
//! `/stats.json` once a second. Names come from senders, so they are
//! escaped in HTML and set as text (never as markup) by the script; the
//! pages' Content-Security-Policy allows scripts from this server only.

use std::fmt::Write as _;

use framecast_stream::StreamHandle;

/// How often the pages refresh their stats, in milliseconds.
const REFRESH_MS: u32 = 1000;

/// `s` with the characters that mean something in HTML escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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

/// `/login`: the access token form (no script: it works with scripts off).
pub(super) fn login(error: Option<&str>) -> String {
    let mut page = String::from(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>log in · framecast</title>\n\
         <link rel=\"stylesheet\" href=\"/assets/viewer.css\">\n</head>\n\
         <body data-page=\"login\">\n<header><h1>framecast</h1></header>\n<main>\n",
    );
    if let Some(error) = error {
        let _ = writeln!(
            page,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(error)
        );
    }
    page.push_str(
        "<form method=\"post\" action=\"/login\">\n<p>This receiver asks for its access \
         token.</p>\n<label for=\"token\">Access token</label>\n<input id=\"token\" \
         name=\"token\" type=\"password\" autocomplete=\"current-password\" required \
         autofocus>\n<button type=\"submit\">Watch</button>\n</form>\n</main>\n</body>\n\
         </html>\n",
    );
    page
}

/// `/`: the live streams, each linking to its page.
pub(super) fn index(streams: &[StreamHandle]) -> String {
    let mut page = head("framecast");
    let _ = write!(
        page,
        "<body data-page=\"index\" data-refresh=\"{REFRESH_MS}\">\n<header><h1>framecast</h1>\
         </header>\n<main>\n<p id=\"status\">{}</p>\n<ul id=\"streams\">\n",
        match streams.len() {
            0 => "no live streams: waiting for senders".to_owned(),
            1 => "1 live stream".to_owned(),
            n => format!("{n} live streams"),
        }
    );
    for s in streams {
        let _ = writeln!(
            page,
            "<li><a href=\"/streams/{id}\">{name}</a></li>",
            id = s.id(),
            name = escape(s.name())
        );
    }
    page.push_str(
        "</ul>\n<p class=\"links\"><a href=\"/stats.json\">stats.json</a> · \
         <a href=\"/metrics\">metrics</a></p>\n</main>\n</body>\n</html>\n",
    );
    page
}

/// `/streams/{id}`: the stream live, with its stats.
pub(super) fn stream(stream: &StreamHandle) -> String {
    let id = stream.id();
    let name = escape(stream.name());
    let mut page = head(&format!("{} · framecast", stream.name()));
    // The picture's size, when a frame has come, so the page does not
    // jump when the first one is shown.
    let size = stream
        .latest()
        .map(|f| format!(" width=\"{}\" height=\"{}\"", f.width(), f.height()))
        .unwrap_or_default();
    let _ = write!(
        page,
        "<body data-page=\"stream\" data-stream=\"{id}\" data-refresh=\"{REFRESH_MS}\">\n<main \
         class=\"watch\">\n<img id=\"live\" src=\"/streams/{id}.mjpg\" alt=\"{name}, \
         live\"{size}>\n<section id=\"info\">\n<h1>{name}</h1>\n<p id=\"state\">live</p>\n\
         <dl>\n<dt>fps</dt><dd id=\"fps\">…</dd>\n<dt>latency</dt><dd id=\"latency\">…</dd>\n\
         <dt>dropped</dt><dd id=\"dropped\">…</dd>\n<dt>viewers</dt><dd id=\"viewers\">…</dd>\n\
         </dl>\n<p class=\"links\"><a href=\"/\">all streams</a> · <a \
         href=\"/streams/{id}.jpg\">snapshot</a></p>\n</section>\n</main>\n</body>\n</html>\n"
    );
    page
}

/// Refreshes the list of streams (`/`) or a stream's stats
/// (`/streams/{id}`) from `/stats.json`.
pub(super) const SCRIPT: &str = r#""use strict";
(() => {
  const body = document.body;
  const page = body.dataset.page;
  const refresh = Number(body.dataset.refresh) || 1000;
  const seen = new Map();

  // Frames shown per second since the previous refresh.
  function fps(s, now) {
    const before = seen.get(s.id);
    seen.set(s.id, { frames: s.frames, at: now });
    if (before && now > before.at) {
      return ((s.frames - before.frames) * 1000) / (now - before.at);
    }
    return s.fps;
  }

  function latency(s) {
    const l = s.recent_latency_ms || s.latency_ms;
    return l ? `${l.p50.toFixed(1)} ms (p99 ${l.p99.toFixed(1)} ms)` : "n/a";
  }

  function set(id, value) {
    const el = document.getElementById(id);
    if (el) el.textContent = value;
  }

  function showIndex(list, now) {
    const live = list.filter((s) => s.connected);
    const items = live.map((s) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `/streams/${s.id}`;
      a.textContent = s.name;
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent =
        `${fps(s, now).toFixed(1)} fps · latency ${latency(s)} · dropped ${s.dropped}` +
        ` · ${s.viewers} watching`;
      li.append(a, " ", meta);
      return li;
    });
    document.getElementById("streams").replaceChildren(...items);
    set(
      "status",
      live.length === 0
        ? "no live streams: waiting for senders"
        : `${live.length} live stream${live.length === 1 ? "" : "s"}`,
    );
  }

  function showStream(list, now) {
    const id = Number(body.dataset.stream);
    const s = list.find((s) => s.id === id);
    if (!s || !s.connected) {
      set("state", "this stream has ended");
      return;
    }
    set("state", "live");
    set("fps", fps(s, now).toFixed(1));
    set("latency", latency(s));
    set("dropped", `${s.dropped} (corrupt ${s.corrupt})`);
    set("viewers", String(s.viewers));
  }

  async function tick() {
    try {
      const answer = await fetch("/stats.json", { cache: "no-store" });
      // The session ended (the receiver restarted): log in again.
      if (answer.status === 401) {
        location.assign("/login");
        return;
      }
      if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
      const list = await answer.json();
      const now = performance.now();
      if (page === "index") showIndex(list, now);
      else if (page === "stream") showStream(list, now);
    } catch (e) {
      set(page === "index" ? "status" : "state", `cannot reach the receiver (${e.message})`);
    }
  }

  tick();
  setInterval(tick, refresh);
})();
"#;

/// The pages' style.
pub(super) const STYLE: &str = "\
:root { color-scheme: dark; font-family: system-ui, sans-serif; }
body { margin: 0; background: #181818; color: #e8e8e8; }
header, main { padding: 0 1rem; }
main.watch { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 1rem; padding: 0; }
#live { display: block; max-width: 100%; height: auto; background: #000; }
#info { padding: 0 1rem; }
h1 { font-size: 1.3rem; margin: 0.8rem 0; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 0.2rem 1rem; }
dt { color: #9a9a9a; }
dd { margin: 0; font-variant-numeric: tabular-nums; }
ul { padding-left: 1.2rem; }
li { margin: 0.4rem 0; }
a { color: #8cc4ff; }
.meta, .links { color: #9a9a9a; }
form { display: grid; gap: 0.6rem; max-width: 24rem; }
input, button { font: inherit; padding: 0.4rem; }
.error { color: #ff9a8c; }
";

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
    }
}
