"""framecast on a shaped link, beside the original programs on the same link.

Run by scripts/link-bench.sh inside a network namespace of its own (it
refuses to run outside one), as root.

Method:
- The namespace's loopback is brought up with an MTU of 1500 (its default of
  65536 makes every packet a jumbo frame, which no real link carries).
- The shaper: an `htb` qdisc on loopback with two classes (both 10 Gbit/s:
  they only sort packets); the first holds a token bucket
  (`tbf rate R burst 32kb latency Q`), and a `u32` filter sends the packets
  bound for the receiver's port into it, so the path from sender to
  receiver is shaped and the way back (ACKs, feedback) is not, as on an
  uplink (a camera's Wi-Fi, 4G, a building's upstream). Q is the router's
  queue: 50 ms is a shallow one, 1000 ms a bloated one. --both-directions
  shapes everything with one tbf at the root instead (the setup of the
  measurements in issue 19's table). A schedule (`20mbit@0 4mbit@10`)
  changes the rate during the run (`tc qdisc change`). `--rate none` leaves
  the loopback unshaped (MTU 1500 still), for the LAN case.
- The frames: the 32 natural 640x480 frames of benches/compare (a window
  panning across the two photographs in crates/codec/testdata), looping,
  sent at --fps (30) and --size (400x400), from a raw RGB file; stretched to
  exactly that size (`send --stretch`), as the original programs send them,
  so both send the same pictures (--keep-aspect: framecast's default, the
  4:3 frames fitted inside, 400x300).
- framecast: `framecast recv --display none` (decode, scale to 800x600,
  discard) with --stats-jsonl (per second: frames shown, bytes, quality and
  size in use, the sender's link estimate, latency p50/p99/max of the
  frames shown in that second) and --stats-json (whole-run totals, latency
  from the receiver's histogram), and `framecast send` with its own
  --stats-json (replaced and skipped frames) and --stats-jsonl (what its
  rate control chose). Latency is from capture (the sender's clock) to the
  frame shown (decoded and scaled) on the receiver's: one machine, one
  clock. CPU per frame: each process's user + system time (/proc/PID/stat)
  at the end of the run over the frames it sent or showed.
- --adapt-off-too runs framecast a second time in each run with
  `--adapt off`, over the same link, for the side-by-side row.
- A schedule's steps are judged as issue 19 asks: after each drop, the
  seconds until p99 stays under 300 ms; after each rise, the seconds until
  the quality is back within 5 of what it was before the first drop.
- the original programs (--original): benches/compare's py_sender.py (resize
  INTER_AREA to 400x400, imencode q95, Video, 8-byte length, sendall) into
  py_receiver.py (read, imdecode, resize to 800x600), for the same seconds;
  latency per frame from the sender's capture time to the receiver's
  picture ready (CLOCK_MONOTONIC, shared by both processes).
- --runs N repeats everything N times, interleaved (framecast, original,
  framecast, ...), and the totals are the median over runs of each figure.
  The load average at the start and the end is printed with the results.

usage: see --help.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
COMPARE = os.path.join(ROOT, "benches", "compare")
TESTDATA = os.path.join(ROOT, "crates", "codec", "testdata")
# The token bucket's burst: a few full-size packets, as a real link's.
BURST = "32kb"


def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def parse_rate(text):
    """'10mbit' -> bits/s (tc's units: kbit, mbit, gbit, bit); 'none' (no
    shaper) -> None."""
    t = text.strip().lower()
    if t == "none":
        return None
    for suffix, scale in (("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1.0)):
        if t.endswith(suffix):
            return float(t[: -len(suffix)]) * scale
    return float(t)


def parse_schedule(text):
    """'20mbit@0 4mbit@10' -> [(0.0, '20mbit'), (10.0, '4mbit')]."""
    steps = []
    for item in text.split():
        rate, _, at = item.partition("@")
        steps.append((float(at or 0), rate))
    steps.sort()
    if not steps or steps[0][0] != 0:
        raise SystemExit("link-bench: the schedule must start at @0")
    return steps


# --- the frames -------------------------------------------------------------


def read_png_rgb(path):
    """An 8-bit RGB PNG as (width, height, bytes), with the standard library
    alone (zlib and the five row filters)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, idat, width = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, color, interlace) != (8, 2, 0):
                raise ValueError(f"{path}: only 8-bit RGB, not interlaced")
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    raw = zlib.decompress(b"".join(idat))
    stride = width * 3
    out = bytearray(stride * height)
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(3, stride):
                line[i] = (line[i] + line[i - 3]) & 0xFF
        elif kind == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif kind == 3:
            for i in range(stride):
                left = line[i - 3] if i >= 3 else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - 3] if i >= 3 else 0
                b = prev[i]
                c = prev[i - 3] if i >= 3 else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        out[y * stride : (y + 1) * stride] = line
        prev = line
    return width, height, bytes(out)


def make_frames(path):
    """benches/compare's sequence: the two photographs side by side, and a
    640x480 window moving 20 pixels a frame across them, 32 frames."""
    pictures = [read_png_rgb(os.path.join(TESTDATA, n))
                for n in ("bunny_640x480.png", "motorcycle_640x480.png")]
    (w, h, a), (_, _, b) = pictures
    with open(path, "wb") as f:
        for i in range(32):
            x0 = 20 * i
            for y in range(h):
                row = a[y * w * 3 : (y + 1) * w * 3] + b[y * w * 3 : (y + 1) * w * 3]
                f.write(row[x0 * 3 : (x0 + 640) * 3])


# --- the link ---------------------------------------------------------------


class Link:
    """The shaper on the namespace's loopback."""

    def __init__(self, queue, both):
        self.queue, self.both = queue, both
        self.parent = None

    def setup(self, rate, port):
        sh("ip", "link", "set", "lo", "up")
        sh("ip", "link", "set", "lo", "mtu", "1500")
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.both:
            self.parent = ["root", "handle", "10:"]
        else:
            # Class 1:10 holds the shaper; everything else goes by 1:20,
            # unshaped (htb at 10 Gbit/s only sorts the packets: `prio` is
            # not available on these machines).
            sh("tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "20",
               "r2q", "10000")
            for cls in ("1:10", "1:20"):
                sh("tc", "class", "add", "dev", "lo", "parent", "1:", "classid", cls, "htb",
                   "rate", "10gbit")
            self.parent = ["parent", "1:10", "handle", "10:"]
            sh("tc", "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1",
               "u32", "match", "ip", "dport", str(port), "0xffff", "flowid", "1:10")
        self.apply("add", rate)

    def apply(self, verb, rate):
        sh("tc", "qdisc", verb, "dev", "lo", *self.parent, "tbf", "rate", rate, "burst", BURST,
           "latency", self.queue)

    def change(self, rate):
        self.apply("change", rate)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_schedule(link, schedule, start, stop):
    if link is None:
        return
    for at, rate in schedule[1:]:
        while time.monotonic() < start + at:
            if stop.wait(0.01):
                return
        link.change(rate)


def rate_at(schedule, t):
    rate = schedule[0][1]
    for at, r in schedule:
        if t >= at:
            rate = r
    return rate


# --- one run of each program --------------------------------------------------


def wait_for_line(proc, prefix, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        line = line.decode(errors="replace").strip()
        if line.startswith(prefix):
            return line[len(prefix):]
    raise RuntimeError(f"no '{prefix}' from {proc.args[0]}")


def drain(proc):
    threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()


def stop(proc, grace=5.0):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def make_link(args, schedule, port):
    """The shaper for a run, or None on an unshaped loopback (MTU 1500)."""
    if schedule[0][1] == "none":
        sh("ip", "link", "set", "lo", "up")
        sh("ip", "link", "set", "lo", "mtu", "1500")
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return None
    link = Link(args.queue, args.both_directions)
    link.setup(schedule[0][1], port)
    return link


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of a running process so far, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def run_framecast(args, work, frames, schedule, extra):
    port = free_port()
    link = make_link(args, schedule, port)
    lines, totals = os.path.join(work, "recv.jsonl"), os.path.join(work, "recv.json")
    s_lines, s_totals = os.path.join(work, "send.jsonl"), os.path.join(work, "send.json")
    for p in (lines, totals, s_lines, s_totals):
        if os.path.exists(p):
            os.remove(p)
    fc = os.environ["FRAMECAST"]
    recv = subprocess.Popen(
        [fc, "recv", "--display", "none", "--listen", f"127.0.0.1:{port}", "--stats-jsonl", lines,
         "--stats-json", totals, "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_line(recv, "listening on ")
        drain(recv)
        start = time.monotonic()
        send = subprocess.Popen(
            [fc, "send", "--to", f"127.0.0.1:{port}", "--source", f"raw:{frames}", "--loop",
             "--input-size", "640x480", "--fps", str(args.fps), "--size", args.size,
             "--name", "link", "--stats-json", s_totals, "--stats-jsonl", s_lines, "-q", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        drain(send)
        stopping = threading.Event()
        steps = threading.Thread(target=run_schedule, args=(link, schedule, start, stopping))
        steps.start()
        while time.monotonic() < start + args.seconds and send.poll() is None:
            time.sleep(0.05)
        stopping.set()
        steps.join()
        send_cpu = cpu_seconds(send.pid)
        stop(send)
        # What is in flight still arrives.
        time.sleep(1.0)
        recv_cpu = cpu_seconds(recv.pid)
    finally:
        stop(recv)
    per_second = []
    with open(lines) as f:
        for line in f:
            rec = json.loads(line)
            st = next((s for s in rec["per_stream"] if s["name"] == "link"), None)
            per_second.append({"t": rec["seconds"], "stream": st})
    with open(totals) as f:
        recv_totals = json.load(f)
    with open(s_totals) as f:
        send_totals = json.load(f)
    return {"per_second": per_second, "receiver": recv_totals, "sender": send_totals,
            "send_cpu_s": send_cpu, "recv_cpu_s": recv_cpu}


def run_original(args, work, frames, schedule):
    port = free_port()
    link = make_link(args, schedule, port)
    sent, got = os.path.join(work, "py_sent.json"), os.path.join(work, "py_got.json")
    python = sys.executable
    count = int(args.seconds * args.fps)
    recv = subprocess.Popen(
        [python, os.path.join(COMPARE, "py_receiver.py"), "127.0.0.1", str(port), str(count), got],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as s:
                # Only /proc tells a listening socket without connecting to
                # a server that serves one client.
                want = f"0100007F:{port:04X}"
                with open("/proc/net/tcp") as f:
                    if any(l.split()[1] == want and l.split()[3] == "0A" for l in f.readlines()[1:]):
                        break
            if time.monotonic() > deadline or recv.poll() is not None:
                raise RuntimeError("py_receiver.py did not listen")
            time.sleep(0.02)
        start = time.monotonic()
        send = subprocess.Popen(
            [python, os.path.join(COMPARE, "py_sender.py"), "127.0.0.1", str(port), frames,
             str(count), str(args.fps), sent, str(args.seconds)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        stopping = threading.Event()
        steps = threading.Thread(target=run_schedule, args=(link, schedule, start, stopping))
        steps.start()
        send.wait(args.seconds + 30)
        stopping.set()
        steps.join()
        # The receiver ends when the sender closes and it has read it all;
        # a bloated queue may still hold seconds of frames.
        recv.wait(60)
    finally:
        for p in (recv,):
            if p.poll() is None:
                p.kill()
    with open(sent) as f:
        capture = json.load(f)["capture"]
    with open(got) as f:
        done = json.load(f)["done"]
    frames_out = [{"captured": c - start, "done": d - start, "latency_ms": (d - c) * 1000}
                  for c, d in zip(capture, done)]
    return {"frames": frames_out, "sent": len(capture)}


# --- figures ------------------------------------------------------------------


def percentile(values, p):
    values = sorted(values)
    if not values:
        return None
    k = max(0, min(len(values) - 1, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return values[k]


def framecast_rows(result, schedule):
    rows = []
    for rec in result["per_second"]:
        st = rec["stream"]
        if st is None:
            continue
        lat = st.get("latency_ms") or {}
        rows.append({
            "t": rec["t"], "link": rate_at(schedule, rec["t"] - 1), "frames": st["frames"],
            "quality": st.get("quality"), "size": f"{st['width']}x{st['height']}",
            "kbps": st["kbps"], "link_estimate_kbps": st.get("link_rate_kbps"),
            "p50": lat.get("p50"), "p99": lat.get("p99"), "max": lat.get("max"),
        })
    return rows


def framecast_totals(result, seconds):
    r, s = result["receiver"], result["sender"]
    lat = r.get("latency_ms") or {}
    per_frame = lambda cpu, n: cpu * 1e6 / n if cpu is not None and n else None
    adapt = s.get("adapt") or {}
    return {
        "send_cpu_us": per_frame(result["send_cpu_s"], s.get("sent")),
        "recv_cpu_us": per_frame(result["recv_cpu_s"], r["frames"]),
        "quality_end": adapt.get("quality"),
        "fps": r["frames"] / seconds,
        "p50": lat.get("p50"), "p99": lat.get("p99"), "max": lat.get("max"),
        "shown": r["frames"], "bytes": r["bytes"],
        "sent": s.get("sent"), "replaced": s.get("replaced"), "skipped": s.get("skipped"),
        "receiver_dropped": r["dropped"],
    }


def original_rows(result, schedule, seconds):
    rows = []
    for sec in range(int(seconds) + 5):
        fs = [f for f in result["frames"] if sec <= f["done"] < sec + 1]
        if not fs and sec >= seconds:
            break
        lat = [f["latency_ms"] for f in fs]
        rows.append({"t": sec + 1, "link": rate_at(schedule, sec), "frames": len(fs), "quality": 95,
                     "size": "400x400", "kbps": None, "link_estimate_kbps": None,
                     "p50": percentile(lat, 50), "p99": percentile(lat, 99),
                     "max": max(lat) if lat else None})
    return rows


def original_totals(result, seconds):
    lat = [f["latency_ms"] for f in result["frames"]]
    span = max((f["done"] for f in result["frames"]), default=0.0)
    return {"fps": len(lat) / max(span, seconds) if lat else 0.0,
            "p50": percentile(lat, 50), "p99": percentile(lat, 99),
            "max": max(lat) if lat else None, "shown": len(lat), "sent": result["sent"]}


def judge_steps(rows, schedule):
    """Issue 19's step-change figures: after each drop of the rate, the
    seconds until p99 stays under 300 ms (until the next step); after each
    rise, the seconds until the quality is back within 5 of its median over
    the 5 s before the first drop. Rows are per second, `t` the end of it."""
    out = []
    drops = [(at, r) for (at, r), (_, before) in zip(schedule[1:], schedule)
             if (parse_rate(r) or 1e18) < (parse_rate(before) or 1e18)]
    if not drops:
        return out
    first_drop = drops[0][0]
    before = [r["quality"] for r in rows
              if first_drop - 5 < r["t"] <= first_drop and r["quality"] is not None]
    q_before = statistics.median(before) if before else None
    for i, (at, rate) in enumerate(schedule[1:], 1):
        prev = schedule[i - 1][1]
        end = schedule[i + 1][0] if i + 1 < len(schedule) else float("inf")
        span = [r for r in rows if at < r["t"] <= end]
        if (parse_rate(rate) or 1e18) < (parse_rate(prev) or 1e18):
            settled = None
            for k, r in enumerate(span):
                if all(x["p99"] is not None and x["p99"] < 300 for x in span[k:]):
                    settled = r["t"] - at
                    break
            out.append({"at": at, "step": f"{prev} -> {rate}", "kind": "drop",
                        "p99_under_300ms_after_s": settled,
                        "worst_p99_ms": max((r["p99"] or 0 for r in span), default=None)})
        else:
            back = None
            if q_before is not None:
                back = next((r["t"] - at for r in span
                             if r["quality"] is not None and r["quality"] >= q_before - 5), None)
            out.append({"at": at, "step": f"{prev} -> {rate}", "kind": "rise",
                        "quality_before": q_before, "quality_back_after_s": back})
    return out


def fmt(v, spec="{:.1f}"):
    return "—" if v is None else spec.format(v)


def print_rows(title, rows):
    print(f"\n{title}")
    print(f"{'s':>4} {'link':>8} {'shown':>5} {'q':>4} {'size':>9} {'kbit/s':>8} "
          f"{'est kbit/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for r in rows:
        print(f"{r['t']:4.0f} {r['link']:>8} {r['frames']:5d} {fmt(r['quality'], '{}'):>4} "
              f"{r['size']:>9} {fmt(r['kbps'], '{:.0f}'):>8} "
              f"{fmt(r['link_estimate_kbps'], '{}'):>10} {fmt(r['p50']):>8} {fmt(r['p99']):>8} "
              f"{fmt(r['max']):>8}", flush=True)


def plot(path, rows, schedule, title, original=None):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("link-bench: --plot needs matplotlib in .venv (link-bench.sh installs it)",
              file=sys.stderr)
        return
    t = [r["t"] for r in rows]
    fig, axes = plt.subplots(3, 1, figsize=(9, 7.5), sharex=True)
    ax = axes[0]
    ax.plot(t, [r["p99"] for r in rows], label="framecast p99", color="tab:red")
    ax.plot(t, [r["p50"] for r in rows], label="framecast p50", color="tab:orange")
    if original:
        ax.plot([r["t"] for r in original], [r["p99"] for r in original],
                label="original programs p99", color="tab:gray", linestyle="--")
    ax.set_ylabel("latency, ms\n(capture → shown)")
    ax.set_yscale("log")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(True, alpha=0.3)
    ax = axes[1]
    ax.plot(t, [r["quality"] for r in rows], color="tab:blue", label="JPEG quality")
    ax.set_ylabel("JPEG quality")
    ax.set_ylim(0, 100)
    ax2 = ax.twinx()
    ax2.plot(t, [int(r["size"].split("x")[0]) for r in rows], color="tab:purple",
             linestyle=":", label="width")
    ax2.set_ylabel("width, px")
    ax2.set_ylim(0, 450)
    ax.grid(True, alpha=0.3)
    ax = axes[2]
    ax.plot(t, [r["frames"] for r in rows], color="tab:green", label="frames shown / s")
    ax.set_ylabel("frames/s")
    ax.set_ylim(0, 35)
    ax3 = ax.twinx()
    link = [(parse_rate(r["link"]) or float("nan")) / 1e6 for r in rows]
    ax3.step(t, link, where="post", color="black", alpha=0.5, label="link rate")
    ax3.plot(t, [r["kbps"] / 1000 if r["kbps"] else None for r in rows], color="tab:cyan",
             label="sent, Mbit/s")
    ax3.set_ylabel("Mbit/s")
    ax3.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("seconds")
    ax.grid(True, alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"plot: {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", default="10mbit",
                   help="the link's rate (tc units: kbit, mbit), or none: unshaped")
    p.add_argument("--schedule", help='rate changes, e.g. "20mbit@0 4mbit@10 20mbit@20"')
    p.add_argument("--queue", default="50ms", help="the router queue's depth (tbf latency)")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--size", default="400x400")
    p.add_argument("--runs", type=int, default=1, help="repeat, and take medians")
    p.add_argument("--original", action="store_true",
                   help="also run the original programs over the same link")
    p.add_argument("--no-framecast", action="store_true", help="only the original programs")
    p.add_argument("--both-directions", action="store_true",
                   help="shape both directions with one tbf (ACKs and feedback too)")
    p.add_argument("--adapt-off-too", action="store_true",
                   help="also run framecast with --adapt off in each run, same link")
    p.add_argument("--keep-aspect", action="store_true",
                   help="framecast fits the 4:3 frames inside --size (its default) "
                        "instead of stretching them as the original programs do")
    p.add_argument("--json", help="write every figure here")
    p.add_argument("--plot", help="draw latency, quality and fps over time to this PNG")
    p.add_argument("--quiet-seconds", action="store_true", help="totals only")
    p.add_argument("send_args", nargs="*", help="after --: more `framecast send` arguments")
    args = p.parse_args()

    if os.path.exists("/proc/net/dev"):
        with open("/proc/net/dev") as f:
            devices = [l.split(":")[0].strip() for l in f.readlines()[2:]]
        if devices != ["lo"]:
            raise SystemExit("link-bench: run me through scripts/link-bench.sh (a private "
                             f"network namespace); this one has {devices}")
    schedule = parse_schedule(args.schedule) if args.schedule else [(0.0, args.rate)]
    load_start = os.getloadavg()
    runs = {"framecast": [], "adapt_off": [], "original": []}
    fit = [] if args.keep_aspect else ["--stretch"]
    variants = [("framecast", "framecast", [])]
    if args.adapt_off_too:
        variants.append(("adapt_off", "framecast --adapt off", ["--adapt", "off"]))
    with tempfile.TemporaryDirectory(prefix="framecast-link-") as work:
        frames = os.path.join(work, "frames.rgb")
        make_frames(frames)
        for n in range(args.runs):
            for key, name, more in variants if not args.no_framecast else []:
                res = run_framecast(args, work, frames, schedule,
                                    fit + more + args.send_args)
                rows = framecast_rows(res, schedule)
                tot = framecast_totals(res, args.seconds)
                steps = judge_steps(rows, schedule)
                runs[key].append({"rows": rows, "totals": tot, "steps": steps})
                if not args.quiet_seconds:
                    print_rows(f"run {n + 1}: {name}", rows)
                print(f"run {n + 1} {name}: {tot['fps']:.1f} fps shown, latency p50 "
                      f"{fmt(tot['p50'])} p99 {fmt(tot['p99'])} max {fmt(tot['max'])} ms; "
                      f"sent {tot['sent']}, replaced at the socket {tot['replaced']}, "
                      f"skipped {tot['skipped']}, receiver dropped {tot['receiver_dropped']}; "
                      f"CPU per frame: sender {fmt(tot['send_cpu_us'], '{:.0f}')} us, "
                      f"receiver {fmt(tot['recv_cpu_us'], '{:.0f}')} us; "
                      f"quality at the end {tot['quality_end']}", flush=True)
                for st in steps:
                    print(f"  step at {st['at']:.0f} s ({st['step']}): "
                          + (f"p99 under 300 ms after {fmt(st['p99_under_300ms_after_s'], '{:.0f}')} s, "
                             f"worst second's p99 {fmt(st['worst_p99_ms'])} ms"
                             if st["kind"] == "drop" else
                             f"quality back within 5 of {fmt(st['quality_before'], '{:.0f}')} after "
                             f"{fmt(st['quality_back_after_s'], '{:.0f}')} s"), flush=True)
            if args.original:
                res = run_original(args, work, frames, schedule)
                rows = original_rows(res, schedule, args.seconds)
                tot = original_totals(res, args.seconds)
                runs["original"].append({"rows": rows, "totals": tot})
                if not args.quiet_seconds:
                    print_rows(f"run {n + 1}: original programs", rows)
                print(f"run {n + 1} original: {tot['fps']:.1f} fps shown, latency p50 "
                      f"{fmt(tot['p50'])} p99 {fmt(tot['p99'])} max {fmt(tot['max'])} ms; "
                      f"sent {tot['sent']}", flush=True)
    load_end = os.getloadavg()

    def med(which, key):
        vs = [r["totals"][key] for r in runs[which] if r["totals"].get(key) is not None]
        return statistics.median(vs) if vs else None

    link = args.schedule or args.rate
    print(f"\nlink {link}, router queue {args.queue}"
          f"{', both directions shaped' if args.both_directions else ''}; {args.seconds:.0f} s "
          f"runs, median of {args.runs}; load average {load_start[0]:.2f} at start, "
          f"{load_end[0]:.2f} at end; {os.cpu_count()} CPUs")
    print("| program | frames/s shown | latency p50 | p99 | max | CPU/frame sender, receiver |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for which, name in (("framecast", "framecast"), ("adapt_off", "framecast --adapt off"),
                        ("original", "original programs")):
        if runs[which]:
            cpu = (f"{fmt(med(which, 'send_cpu_us'), '{:.0f}')}, "
                   f"{fmt(med(which, 'recv_cpu_us'), '{:.0f}')} us"
                   if which != "original" else "—")
            print(f"| {name} | {fmt(med(which, 'fps'))} | {fmt(med(which, 'p50'))} ms "
                  f"| {fmt(med(which, 'p99'))} ms | {fmt(med(which, 'max'))} ms | {cpu} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"link": link, "queue": args.queue, "seconds": args.seconds,
                       "both_directions": args.both_directions, "send_args": args.send_args,
                       "load_start": load_start, "load_end": load_end, "runs": runs,
                       "median": {w: {k: med(w, k) for k in ("fps", "p50", "p99", "max",
                                                             "send_cpu_us", "recv_cpu_us")}
                                  for w in runs if runs[w]}}, f, indent=1)
    if args.plot and runs["framecast"]:
        original = runs["original"][0]["rows"] if runs["original"] else None
        plot(args.plot, runs["framecast"][0]["rows"], schedule,
             f"framecast on a shaped link: {link}, router queue {args.queue}", original)


if __name__ == "__main__":
    main()
