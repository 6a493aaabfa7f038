#!/usr/bin/env python3
"""A page in a real browser: opens a URL in headless Chromium and drives it
over the DevTools protocol on a pipe (--remote-debugging-pipe: no port, no
extra package), for the HTTP viewer's tests and scripts/viewer-links.sh.

    chromium_page.py shot URL OUT.png [--wait S] [--size WxH] [--then JS]
        waits S seconds (default 4) after the page loads (running JS in
        the page halfway through, when given), then saves a screenshot of
        the viewport and prints, as JSON, what the page's elements say:
        {"tiles": N, "canvases": [{"id", "width", "height", "points"}],
        "figures": [the wall tiles' figures], "texts": {id: text}}.
    chromium_page.py figures URL [--seconds S] [--warmup W]
        a stream page's own figures: the frames it drew in S seconds after
        W seconds of warm-up (`window.framecastViewer.samples()`), their
        rate and age on screen (p50/p99/max) and the tiers; printed as a
        line and, with --json FILE, written as JSON. Exits 1 if the page
        reports nothing.

Chromium is `chromium` on PATH unless --chromium says otherwise; as root
it runs with --no-sandbox.
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    """Headless Chromium with the DevTools protocol on fds 3 (commands) and
    4 (answers and events): JSON messages, each ending in NUL."""

    def __init__(self, chromium, profile, size):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        # The child must find the pipes at fds 3 and 4; those two survive
        # the closing of descriptors that follows.
        def fds():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.proc = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                f"--window-size={size[0]},{size[1]}",
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            preexec_fn=fds,
            pass_fds=(3, 4),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.next_id = 0
        self.buffer = b""
        self.session = None

    def call(self, method, params=None, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answer = self.read()
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
        raise RuntimeError(f"{method}: no answer within 60 s")

    def read(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def open(self, url, size):
        target = self.call("Target.createTarget", {"url": "about:blank"}, False)["targetId"]
        self.session = self.call(
            "Target.attachToTarget", {"targetId": target, "flatten": True}, False
        )["sessionId"]
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False},
        )
        self.call("Page.enable")
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return r.get("result", {}).get("value")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# What a test wants to know about the page, read from its elements.
DESCRIBE = """(() => ({
  tiles: document.querySelectorAll('.tile').length,
  canvases: [...document.querySelectorAll('canvas')].map((c) => {
    const r = c.getBoundingClientRect();
    return {
      id: c.id, width: c.width, height: c.height, points: Number(c.dataset.points || 0),
      x: Math.round(r.x), y: Math.round(r.y), w: Math.round(r.width), h: Math.round(r.height),
    };
  }),
  figures: [...document.querySelectorAll('.tile .figures')].map((e) => e.textContent),
  texts: Object.fromEntries([...document.querySelectorAll('[id]')]
    .filter((e) => e.children.length === 0)
    .map((e) => [e.id, e.textContent])),
}))()"""


def percentile(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def shot(browser, a):
    if a.then:
        # Half the wait, then what a person would do on the page, then
        # the rest.
        time.sleep(a.wait / 2)
        browser.evaluate(a.then)
        time.sleep(a.wait / 2)
    else:
        time.sleep(a.wait)
    data = browser.call("Page.captureScreenshot", {"format": "png"})["data"]
    with open(a.out, "wb") as f:
        f.write(base64.b64decode(data))
    print(json.dumps(browser.evaluate(DESCRIBE)))
    return 0


def figures(browser, a):
    time.sleep(a.warmup)
    start = browser.evaluate("performance.now()")
    samples = {}
    end_at = time.monotonic() + a.seconds
    # The page keeps about a minute of frames: read them often enough that
    # none is missed.
    while True:
        time.sleep(max(0.0, min(5.0, end_at - time.monotonic())))
        got = browser.evaluate(
            "window.framecastViewer ? window.framecastViewer.samples() : null"
        )
        if got is None:
            print("the page reports no figures", file=sys.stderr)
            return 1
        for s in got:
            if s["at"] >= start:
                samples[s["at"]] = s
        if time.monotonic() >= end_at:
            break
    end = browser.evaluate("performance.now()")
    tier = browser.evaluate("window.framecastViewer.tier()")
    frames = [s for s in samples.values() if s["at"] < end]
    seconds = (end - start) / 1000
    ages = [s["age_ms"] for s in frames if s.get("age_ms") is not None]
    tiers = {}
    for s in frames:
        t = s.get("tier") or "original"
        tiers[t] = tiers.get(t, 0) + 1
    report = {
        "fps": len(frames) / seconds,
        "age_ms_p50": percentile(ages, 0.5),
        "age_ms_p99": percentile(ages, 0.99),
        "age_ms_max": max(ages, default=None),
        "kbit_per_s": sum(s.get("bytes", 0) for s in frames) * 8 / 1000 / seconds,
        "tiers": tiers,
        "last_tier": tier,
    }
    total = max(len(frames), 1)
    fmt = lambda v: "–" if v is None else f"{v:.0f}"
    print(
        f"page: {report['fps']:.2f} frames/s drawn; age on screen p50 {fmt(report['age_ms_p50'])} ms "
        f"p99 {fmt(report['age_ms_p99'])} ms max {fmt(report['age_ms_max'])} ms; "
        f"{report['kbit_per_s']:.0f} kbit/s; tiers: "
        + ", ".join(f"{t} {n * 100 / total:.0f} %" for t, n in sorted(tiers.items()))
        + f"; last tier {tier}"
    )
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f)
    return 0 if frames else 1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("shot")
    s.add_argument("url")
    s.add_argument("out")
    s.add_argument("--wait", type=float, default=4)
    s.add_argument("--size", default="1024x768")
    s.add_argument("--then", help="a script to run in the page halfway through the wait")
    f = sub.add_parser("figures")
    f.add_argument("url")
    f.add_argument("--seconds", type=float, default=20)
    f.add_argument("--warmup", type=float, default=3)
    f.add_argument("--size", default="1024x768")
    f.add_argument("--json")
    a = p.parse_args()
    size = tuple(int(x) for x in a.size.split("x"))
    # Chromium's helper processes may still write to the profile for a
    # moment after the browser is closed: a leftover file is no failure.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        browser = Browser(a.chromium, profile, size)
        try:
            browser.open(a.url, size)
            return shot(browser, a) if a.command == "shot" else figures(browser, a)
        finally:
            browser.close()


if __name__ == "__main__":
    sys.exit(main())
