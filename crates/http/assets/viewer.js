"use strict";
// The framecast viewer's pages: the camera wall (`/`) and a stream's page.
//
// Pictures are read as MJPEG with fetch() and drawn on a canvas, not shown
// by an <img>: that way the page sees each part's headers (`X-Timestamp`,
// the capture time; `X-Sequence`; `X-Tier`) and can say how old the
// picture on screen is and which tier it came in. Everything the server
// sends is set as text, never as markup.
(() => {
  const body = document.body;
  const page = body.dataset.page;
  const refreshMs = Number(body.dataset.refresh) || 1000;
  // Minutes of history the stream page's graphs show.
  const HISTORY_SECONDS = 300;
  // At most this many tiles stream live on the wall; beyond it, tiles are
  // refreshed snapshots (a browser opens at most six connections to one
  // server over HTTP/1.1, and a live tile holds one).
  const WALL_LIVE_TILES = 4;
  const SNAPSHOT_INTERVAL_MS = 1000;

  // A stream name as shown: control, bidirectional and zero-width characters
  // written as escapes (\u{202e}), as the server shows names everywhere.
  const INVISIBLE =
    /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;
  const SHORT_ESCAPES = { "\t": "\\t", "\n": "\\n", "\r": "\\r" };
  const printable = (text) =>
    String(text).replace(
      INVISIBLE,
      (c) => SHORT_ESCAPES[c] || `\\u{${c.codePointAt(0).toString(16)}}`,
    );

  // ---- the server's clock -------------------------------------------------
  // Capture times are the server's (the sender's, checked by the receiver)
  // clock; the browser's may be off by seconds. Each /stats.json answer
  // carries the server's time; the sample with the shortest round trip of
  // the recent ones gives the offset, within half that round trip.
  const clock = {
    samples: [],
    offsetMs: 0,
    learn(serverSeconds, sentAt, gotAt) {
      if (typeof serverSeconds !== "number") return;
      const rtt = gotAt - sentAt;
      this.samples.push({ rtt, offset: serverSeconds * 1000 - (sentAt + gotAt) / 2 });
      if (this.samples.length > 30) this.samples.shift();
      let best = this.samples[0];
      for (const s of this.samples) if (s.rtt < best.rtt) best = s;
      this.offsetMs = best.offset;
    },
    now() {
      return Date.now() + this.offsetMs;
    },
  };

  // ---- words and numbers -------------------------------------------------
  const fmt = {
    fps: (v) => (v == null || Number.isNaN(v) ? "–" : `${v.toFixed(1)} fps`),
    ms: (v) => {
      if (v == null || Number.isNaN(v)) return "–";
      return v >= 10000 ? `${(v / 1000).toFixed(0)} s` : v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
    },
    bits: (bps) => {
      if (bps == null || Number.isNaN(bps)) return "–";
      if (bps >= 1e6) return `${(bps / 1e6).toFixed(1)} Mbit/s`;
      return `${Math.round(bps / 1e3)} kbit/s`;
    },
    size: (w, h) => (w && h ? `${w}×${h}` : "–"),
    duration: (s) => {
      if (s == null) return "–";
      const h = Math.floor(s / 3600);
      const m = Math.floor((s % 3600) / 60);
      const sec = Math.floor(s % 60);
      return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${sec} s` : `${sec} s`;
    },
  };

  function set(id, text) {
    const el = document.getElementById(id);
    if (el && el.textContent !== text) el.textContent = text;
  }

  // ---- the stats ----------------------------------------------------------
  async function fetchStats() {
    const sentAt = Date.now();
    const answer = await fetch("/stats.json", { cache: "no-store" });
    const gotAt = Date.now();
    // The session ended (the receiver restarted): log in again.
    if (answer.status === 401) {
      location.assign("/login");
      throw new Error("not logged in");
    }
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    const stats = await answer.json();
    clock.learn(stats.time, sentAt, gotAt);
    return stats;
  }

  // A stream's current rates, from the library's own figures when present,
  // else from the change since the previous answer.
  const previous = new Map();
  function rates(stats, s, at) {
    const before = previous.get(s.id);
    previous.set(s.id, { received: s.received, bytes: s.bytes, at });
    const h = httpOf(stats, s.id);
    const dt = before ? (at - before.at) / 1000 : 0;
    const fps = h?.recent_fps ?? (dt > 0 ? (s.received - before.received) / dt : s.fps);
    const bitrate = h?.recent_bits_per_second ?? (dt > 0 ? ((s.bytes - before.bytes) * 8) / dt : null);
    return { fps, bitrate };
  }

  // Stream `id` in the HTTP viewer's part of the stats.
  function httpOf(stats, id) {
    return stats.http && stats.http.per_stream ? stats.http.per_stream.find((x) => x.id === id) : null;
  }

  function viewersOf(stats, id) {
    return httpOf(stats, id)?.viewers ?? 0;
  }

  function latencyOf(s) {
    const l = s.recent_latency_ms || s.latency_ms;
    return l ? l.p50 : null;
  }

  // ---- MJPEG over fetch ---------------------------------------------------
  const CRLFCRLF = [13, 10, 13, 10];

  // Reads `url` as multipart MJPEG and calls `onPart` with each part's
  // JPEG bytes and headers; reconnects after an error. `stop()` ends it.
  function mjpeg(url, onPart, onState) {
    let controller = null;
    let stopped = false;
    let retry = 1000;

    async function run() {
      while (!stopped) {
        controller = new AbortController();
        try {
          const answer = await fetch(url, { cache: "no-store", signal: controller.signal });
          if (answer.status === 401) {
            location.assign("/login");
            return;
          }
          if (!answer.ok) {
            const why = (await answer.text()).trim();
            onState({ error: why || `HTTP ${answer.status}`, status: answer.status });
            if (answer.status === 404) return;
          } else if (!answer.body) {
            onState({ error: "this browser cannot read a stream", fatal: true });
            return;
          } else {
            onState({ live: true });
            retry = 1000;
            await readParts(answer.body.getReader(), onPart);
            onState({ error: "the stream ended" });
          }
        } catch (e) {
          if (stopped) return;
          onState({ error: `connection lost (${e.message})` });
        }
        await new Promise((r) => setTimeout(r, retry));
        retry = Math.min(retry * 2, 10000);
      }
    }

    run();
    return {
      stop() {
        stopped = true;
        if (controller) controller.abort();
      },
    };
  }

  // Splits a multipart body into parts by their Content-Length.
  async function readParts(reader, onPart) {
    let head = new Uint8Array(0);
    let jpeg = null;
    let filled = 0;
    let headers = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      let chunk = value;
      while (chunk.length > 0) {
        if (jpeg) {
          const n = Math.min(jpeg.length - filled, chunk.length);
          jpeg.set(chunk.subarray(0, n), filled);
          filled += n;
          chunk = chunk.subarray(n);
          if (filled === jpeg.length) {
            onPart(jpeg, headers);
            jpeg = null;
          }
          continue;
        }
        const joined = new Uint8Array(head.length + chunk.length);
        joined.set(head);
        joined.set(chunk, head.length);
        const end = indexOf(joined, CRLFCRLF, Math.max(0, head.length - 3));
        if (end < 0) {
          if (joined.length > 16384) throw new Error("a part header too long");
          head = joined;
          chunk = new Uint8Array(0);
          continue;
        }
        headers = parseHeaders(new TextDecoder().decode(joined.subarray(0, end)));
        head = new Uint8Array(0);
        const length = Number(headers["content-length"]);
        if (!Number.isFinite(length) || length <= 0 || length > 64 * 1024 * 1024) {
          throw new Error("a part without a usable Content-Length");
        }
        jpeg = new Uint8Array(length);
        filled = 0;
        chunk = joined.subarray(end + 4);
      }
    }
  }

  function indexOf(bytes, needle, from) {
    outer: for (let i = from; i <= bytes.length - needle.length; i++) {
      for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  }

  function parseHeaders(text) {
    const out = {};
    for (const line of text.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) out[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return out;
  }

  // A part's capture time in ms since the epoch (`X-Timestamp` is seconds
  // with microseconds), or null.
  function captureMs(headers) {
    const t = Number(headers["x-timestamp"]);
    return Number.isFinite(t) && t > 0 ? t * 1000 : null;
  }

  // ---- a picture on a canvas ----------------------------------------------
  // Draws the newest decoded part; a part that arrives while the previous
  // one is being decoded replaces any waiting one (latest wins here too).
  function painter(canvas, onShown) {
    const ctx = canvas.getContext("2d");
    let busy = false;
    let waiting = null;

    async function show(jpeg, headers) {
      if (busy) {
        waiting = { jpeg, headers };
        return;
      }
      busy = true;
      try {
        const bitmap = await createImageBitmap(new Blob([jpeg], { type: "image/jpeg" }));
        if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
          canvas.width = bitmap.width;
          canvas.height = bitmap.height;
        }
        ctx.drawImage(bitmap, 0, 0);
        bitmap.close();
        onShown(jpeg.length, headers);
      } catch (e) {
        // A picture the browser cannot decode: skip it.
      } finally {
        busy = false;
      }
      if (waiting) {
        const next = waiting;
        waiting = null;
        show(next.jpeg, next.headers);
      }
    }
    return show;
  }

  // ---- the camera wall ----------------------------------------------------
  function wall() {
    const grid = document.getElementById("wall");
    const tiles = new Map();

    function tileWidth() {
      // The picture's width in device pixels, in steps of 160 so that
      // tiles of one size share one tier on the server.
      const css = grid.firstElementChild ? grid.firstElementChild.clientWidth : 320;
      const px = css * (window.devicePixelRatio || 1);
      return Math.max(160, Math.ceil(px / 160) * 160);
    }

    function makeTile(s) {
      const a = document.createElement("a");
      a.className = "tile";
      a.href = `/streams/by-name/${encodeURIComponent(s.name)}`;
      const pic = document.createElement("div");
      pic.className = "pic";
      const canvas = document.createElement("canvas");
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `${printable(s.name)}, live`);
      const state = document.createElement("p");
      state.className = "state";
      state.textContent = "connecting…";
      pic.append(canvas, state);
      const cap = document.createElement("div");
      cap.className = "cap";
      const name = document.createElement("h2");
      name.textContent = printable(s.name);
      const figures = document.createElement("p");
      figures.className = "figures";
      cap.append(name, figures);
      a.append(pic, cap);
      const tile = { a, pic, canvas, state, figures, id: s.id, feed: null, mode: null, shownAt: 0 };
      tile.draw = painter(canvas, () => {
        tile.shownAt = performance.now();
        state.hidden = true;
        // Each tile at its stream's own shape (tiers keep it).
        const aspect = `${canvas.width} / ${canvas.height}`;
        if (pic.style.aspectRatio !== aspect) pic.style.aspectRatio = aspect;
      });
      return tile;
    }

    function feed(tile, s, live) {
      const mode = live ? "live" : "snapshots";
      if (tile.mode === mode) return;
      if (tile.feed) tile.feed.stop();
      tile.mode = mode;
      const width = tileWidth();
      if (live) {
        tile.feed = mjpeg(`/streams/${s.id}.mjpg?quality=auto&width=${width}`, tile.draw, (st) => {
          if (st.error) {
            tile.state.hidden = false;
            tile.state.textContent = st.error;
          }
        });
      } else {
        let timer = null;
        let stopped = false;
        const once = async () => {
          try {
            const answer = await fetch(`/streams/${s.id}.jpg?quality=70&width=${width}`, {
              cache: "no-store",
            });
            if (answer.ok) {
              const bytes = new Uint8Array(await answer.arrayBuffer());
              tile.draw(bytes, { "x-timestamp": answer.headers.get("x-timestamp") || "" });
            }
          } catch (e) {
            // Tried again at the next tick.
          }
          if (!stopped) timer = setTimeout(once, SNAPSHOT_INTERVAL_MS);
        };
        once();
        tile.feed = {
          stop() {
            stopped = true;
            clearTimeout(timer);
          },
        };
      }
    }

    function update(stats, at) {
      const live = stats.per_stream.filter((s) => s.connected);
      const liveIds = new Set(live.map((s) => s.id));
      for (const [id, tile] of tiles) {
        if (!liveIds.has(id)) {
          if (tile.feed) tile.feed.stop();
          tile.a.remove();
          tiles.delete(id);
        }
      }
      // The server-rendered tiles (for pages without scripts) give way.
      for (const old of grid.querySelectorAll(".tile.static")) old.remove();
      for (const s of live) {
        let tile = tiles.get(s.id);
        if (!tile) {
          tile = makeTile(s);
          tiles.set(s.id, tile);
          grid.append(tile.a);
        }
        feed(tile, s, live.length <= WALL_LIVE_TILES);
        const r = rates(stats, s, at);
        const parts = [
          fmt.size(s.width || httpOf(stats, s.id)?.width, s.height || httpOf(stats, s.id)?.height),
          fmt.fps(r.fps),
          fmt.bits(r.bitrate),
        ];
        const titles = ["picture size", "frames per second received", "bits per second received"];
        if (s.quality != null) {
          parts.push(`q${s.quality}`);
          titles.push("JPEG quality the sender encodes at");
        }
        if (s.link_rate_kbps != null) {
          parts.push(`link ${fmt.bits(s.link_rate_kbps * 1000)}`);
          titles.push("what the sender estimates its link carries");
        }
        parts.push(`latency ${fmt.ms(latencyOf(s))}`, `${viewersOf(stats, s.id)} watching`);
        titles.push("time from capture to the receiver (median)", "people watching now");
        tile.figures.textContent = parts.join(" · ");
        tile.figures.title = titles.join(" · ");
      }
      set(
        "status",
        live.length === 0
          ? "No live streams: waiting for senders."
          : `${live.length} live stream${live.length === 1 ? "" : "s"} · ${stats.per_stream
              .filter((s) => s.connected)
              .reduce((n, s) => n + viewersOf(stats, s.id), 0)} watching`,
      );
      body.classList.toggle("empty", live.length === 0);
    }

    async function tick() {
      try {
        const stats = await fetchStats();
        update(stats, performance.now());
      } catch (e) {
        set("status", `Cannot reach the receiver (${e.message}).`);
      }
    }
    tick();
    setInterval(tick, refreshMs);
  }

  // ---- a stream's page ----------------------------------------------------
  function stream() {
    const id = Number(body.dataset.stream);
    const name = body.dataset.name;
    const mjpgPath = body.dataset.mjpg;
    const stage = document.getElementById("stage");
    const canvas = document.getElementById("live");
    const select = document.getElementById("tier");
    const history = []; // one entry a second
    const samples = []; // one entry a frame shown, the last minute or so
    let shown = null; // the part on screen: its headers
    let lastSequence = null;
    let skipped = 0;
    let feed = null;

    const draw = painter(canvas, (bytes, headers) => {
      const now = performance.now();
      const captured = captureMs(headers);
      const age = captured == null ? null : clock.now() - captured;
      const seq = Number(headers["x-sequence"]);
      // Frames of the stream this page did not get: its link (or this
      // browser) was busy. Not the receiver's own drops.
      if (Number.isFinite(seq)) {
        if (lastSequence != null && seq > lastSequence + 1) skipped += seq - lastSequence - 1;
        lastSequence = seq;
      }
      shown = headers;
      samples.push({ at: now, age_ms: age, bytes, tier: headers["x-tier"] || null, seq });
      while (samples.length > 0 && now - samples[0].at > 70000) samples.shift();
      stage.classList.add("playing");
    });

    function start() {
      if (feed) feed.stop();
      const q = select ? select.value : "auto";
      const url = q === "original" ? mjpgPath : `${mjpgPath}?quality=${encodeURIComponent(q)}`;
      lastSequence = null;
      feed = mjpeg(url, draw, (st) => {
        if (st.live) set("state", "live");
        else if (st.error) set("state", st.error);
      });
    }
    // A link may say how to start: ?quality=auto|original|Q, ?size=actual.
    const asked = new URLSearchParams(location.search);
    const quality = asked.get("quality");
    if (select && quality) {
      if (![...select.options].some((o) => o.value === quality) && /^\d+$/.test(quality)) {
        select.add(new Option(`quality ${quality}`, quality));
      }
      select.value = quality;
      if (!select.value) select.value = "auto";
    }
    if (select) select.addEventListener("change", start);
    if (asked.get("size") === "actual") {
      stage.classList.add("native");
      const fit = document.getElementById("fit");
      if (fit) fit.textContent = "Fit to window";
    }

    document.getElementById("fullscreen")?.addEventListener("click", () => {
      if (document.fullscreenElement) document.exitFullscreen();
      else stage.requestFullscreen?.();
    });
    document.getElementById("fit")?.addEventListener("click", (e) => {
      const native = stage.classList.toggle("native");
      e.currentTarget.textContent = native ? "Fit to window" : "Actual size";
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "f" && !e.ctrlKey && !e.metaKey && e.target === body) {
        document.getElementById("fullscreen")?.click();
      }
    });

    // The age of the picture on screen, live.
    setInterval(() => {
      const captured = shown ? captureMs(shown) : null;
      set("age", captured == null ? "–" : fmt.ms(clock.now() - captured));
    }, 100);

    function recent(seconds) {
      const now = performance.now();
      return samples.filter((s) => now - s.at <= seconds * 1000);
    }

    // The stream by name: after its sender reconnects it has a new number.
    function mine(stats) {
      let best = null;
      for (const x of stats.per_stream) {
        if (x.connected && x.name === name && (!best || x.id > best.id)) best = x;
      }
      return best || stats.per_stream.find((x) => x.id === id);
    }

    function update(stats, at) {
      const s = mine(stats);
      if (!s || !s.connected) {
        set("state", "this stream has ended");
        return;
      }
      const r = rates(stats, s, at);
      const last = recent(2);
      const pageFps = last.length / 2;
      const pageBits = (last.reduce((n, x) => n + x.bytes, 0) * 8) / 2;
      const ages = last.map((x) => x.age_ms).filter((x) => x != null).sort((a, b) => a - b);
      const ageP50 = ages.length ? ages[Math.floor(ages.length / 2)] : null;
      set("page-fps", fmt.fps(pageFps));
      set("page-bitrate", fmt.bits(pageBits));
      set("tier-now", shown ? tierWords(shown, canvas) : "–");
      set("skipped", String(skipped));
      const h = httpOf(stats, s.id);
      set("stream-size", fmt.size(s.width || h?.width, s.height || h?.height));
      set("stream-fps", fmt.fps(r.fps));
      set("stream-bitrate", fmt.bits(r.bitrate));
      set("latency", fmt.ms(latencyOf(s)));
      set("viewers", String(viewersOf(stats, s.id)));
      set("uptime", fmt.duration(s.seconds));
      set("stream-quality", s.quality != null ? String(s.quality) : "–");
      set("link-rate", s.link_rate_kbps != null ? fmt.bits(s.link_rate_kbps * 1000) : "–");
      const sender = [s.feedback ? "adapts to its link" : "keeps its own settings"];
      const a = ask.asked;
      if (a) {
        const limits = [];
        if (a.quality != null) limits.push(`quality ${a.quality}`);
        if (a.width != null || a.height != null) limits.push(`${a.width ?? "any"}×${a.height ?? "any"}`);
        if (a.fps != null) limits.push(`${a.fps} fps`);
        if (limits.length) sender.push(`asked for at most ${limits.join(", ")}`);
      }
      set("sender", sender.join(" · "));
      ask.follow(s);
      history.push({
        t: at,
        pageFps,
        streamFps: r.fps,
        age: ageP50,
        latency: latencyOf(s),
        pageBits,
        streamBits: r.bitrate,
      });
      while (history.length > HISTORY_SECONDS) history.shift();
      graph("graph-fps", fmt.fps, [
        { key: "streamFps", cls: "a" },
        { key: "pageFps", cls: "b" },
      ]);
      graph("graph-latency", fmt.ms, [
        { key: "latency", cls: "a" },
        { key: "age", cls: "b" },
      ]);
      graph("graph-bitrate", fmt.bits, [
        { key: "streamBits", cls: "a" },
        { key: "pageBits", cls: "b" },
      ]);
    }

    // The sender's settings, asked at run time: POST .../settings (JSON,
    // same origin) and what the answer says.
    const ask = {
      asked: null,
      id: null,
      section: document.getElementById("ask"),
      path: `${mjpgPath.replace(/\.mjpg$/, "")}/settings`,
      field(name) {
        return document.getElementById(`ask-${name}`);
      },
      show(answer) {
        this.asked = answer.asked || null;
        if (!this.section) return;
        this.section.hidden = false;
        const fields = document.getElementById("ask-fields");
        if (fields) fields.hidden = !answer.can_ask;
        if (!answer.can_ask) set("ask-result", `This sender cannot be asked: ${answer.reason}.`);
      },
      // Learns whether the sender can be asked and what it was asked: at
      // each new session (a sender that reconnects starts with nothing
      // asked), and every few seconds (another page or a script may ask).
      checkedAt: 0,
      async follow(s) {
        const now = performance.now();
        if (this.id === s.id && now - this.checkedAt < 5000) return;
        this.id = s.id;
        this.checkedAt = now;
        try {
          const answer = await fetch(this.path, { cache: "no-store" });
          if (answer.ok) this.show(await answer.json());
        } catch (e) {
          // Tried again with the next session.
        }
      },
      async send(body) {
        set("ask-result", "asking…");
        try {
          const answer = await fetch(this.path, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(body),
          });
          const json = await answer.json();
          if (answer.ok) {
            this.show(json);
            set("ask-result", "Asked: the sender takes it from its next frame.");
          } else {
            set("ask-result", `Refused: ${json.error || answer.status}`);
          }
        } catch (e) {
          set("ask-result", `Cannot reach the receiver (${e.message}).`);
        }
      },
      apply() {
        const body = {};
        for (const name of ["quality", "width", "height", "fps"]) {
          const v = this.field(name)?.value.trim();
          if (v) body[name] = Number(v);
        }
        this.send(body);
      },
      reset() {
        for (const name of ["quality", "width", "height", "fps"]) {
          const f = this.field(name);
          if (f) f.value = "";
        }
        this.send({});
      },
    };
    document.getElementById("ask-apply")?.addEventListener("click", () => ask.apply());
    document.getElementById("ask-reset")?.addEventListener("click", () => ask.reset());

    // The colours of the graph lines, from the style sheet.
    const colours = {};
    function colour(cls) {
      if (!colours[cls]) {
        const probe = document.createElement("span");
        probe.className = `series-${cls}`;
        body.append(probe);
        colours[cls] = getComputedStyle(probe).color;
        probe.remove();
      }
      return colours[cls];
    }

    // A small graph of `series` over the history, its top labelled with
    // `label(top)`.
    function graph(canvasId, label, series) {
      const c = document.getElementById(canvasId);
      if (!c) return;
      const ratio = window.devicePixelRatio || 1;
      const w = Math.max(1, Math.round(c.clientWidth * ratio));
      const h = Math.max(1, Math.round(c.clientHeight * ratio));
      if (c.width !== w || c.height !== h) {
        c.width = w;
        c.height = h;
      }
      const g = c.getContext("2d");
      g.clearRect(0, 0, w, h);
      let max = 0;
      for (const e of history) for (const s of series) max = Math.max(max, e[s.key] ?? 0);
      if (max <= 0) max = 1;
      max *= 1.15;
      g.strokeStyle = colour("grid");
      g.lineWidth = 1;
      for (const f of [0.5, 1]) {
        g.beginPath();
        g.moveTo(0, h - (h * f) / 1.15);
        g.lineTo(w, h - (h * f) / 1.15);
        g.stroke();
      }
      // The time axis spans the last minute at first, then grows to the
      // whole history kept.
      const span = Math.max(60, Math.min(HISTORY_SECONDS, history.length));
      const step = w / (span - 1);
      const x0 = w - (history.length - 1) * step;
      // The first series is drawn wide and the second narrow and dashed on
      // top, so that both stay visible where they coincide (a page that
      // keeps up shows the stream's fps exactly).
      series.forEach((s, n) => {
        g.strokeStyle = colour(s.cls);
        g.lineWidth = (n === 0 ? 5 : 2) * ratio;
        g.setLineDash(n === 0 ? [] : [9 * ratio, 3 * ratio]);
        g.beginPath();
        let pen = false;
        history.forEach((e, i) => {
          const v = e[s.key];
          if (v == null || Number.isNaN(v)) {
            pen = false;
            return;
          }
          const x = x0 + i * step;
          const y = h - (v / max) * h;
          if (pen) g.lineTo(x, y);
          else g.moveTo(x, y);
          pen = true;
        });
        g.stroke();
      });
      g.setLineDash([]);
      g.fillStyle = colour("label");
      g.font = `${11 * ratio}px system-ui, sans-serif`;
      g.textBaseline = "top";
      g.fillText(label(max / 1.15), 4 * ratio, 3 * ratio);
      c.dataset.points = String(history.length);
    }

    async function tick() {
      try {
        const stats = await fetchStats();
        update(stats, performance.now());
      } catch (e) {
        set("state", `cannot reach the receiver (${e.message})`);
      }
    }

    // For tools and tests: the frames this page drew (the last minute) and
    // the tier of the newest.
    window.framecastViewer = {
      samples: () => samples.map((s) => ({ ...s })),
      tier: () => (shown ? shown["x-tier"] || "original" : null),
    };

    start();
    tick();
    setInterval(tick, refreshMs);
  }

  function tierWords(headers, canvas) {
    const tier = headers["x-tier"];
    const size = `${canvas.width}×${canvas.height}`;
    if (!tier || tier === "original") return `original (${size})`;
    return `${size}, ${tier}`;
  }

  if (page === "wall") wall();
  else if (page === "stream") stream();
})();
