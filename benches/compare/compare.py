"""Runs framecast, GStreamer and the original Python/OpenCV programs'
processing on the same frames, interleaved round by round, and prints
frames/s, latency and CPU per frame per side, with ratios to framecast.

Each tool moves the same 32 natural 640x480 RGB frames (a window panning
across the two photographs in crates/codec/testdata, looping) through:
resize to 400x400, JPEG quality 95, framing, TCP over loopback, decode,
resize to 800x600, discard.

Method, the same for every tool:
- Free-running frames/s: a sender with no pacing into its receiver, run
  twice, with FRAMES and with WARMUP frames; frames/s is
  (FRAMES - WARMUP) / (T(FRAMES) - T(WARMUP)), T being the wall time from
  starting the sender to both processes having exited. The difference
  cancels start-up (interpreter and library loading, connection set-up).
- CPU per frame per side, paced at 30 frames/s: user + system time of each
  process (os.wait4's rusage), over a paced run of PACED frames minus one
  of PACED_WARMUP frames, divided by the frame difference: the steady
  state's cost, without start-up.
- Latency, paced at 30 frames/s: capture to picture ready on the receiver,
  p50 and p99, where the tool measures it (framecast's stats; the Python
  peers' timestamps; GStreamer's pipeline reports none).
- Rounds interleave the tools (a round runs each once), so load changes on
  a shared machine hit all of them alike; the table shows medians over
  rounds, and the load average at start and end.

Rows beyond the three: `--also 'LABEL|BINARY|SEND ARGS|RECV ARGS'` adds a
framecast run with other arguments or another binary (an empty BINARY is
--framecast's), e.g. the headless receiver (`--display none`: decoded to
check and time each frame, not scaled, since nothing shows it) or the
build before a change, measured in the same rounds. Ratios are to the
first row, framecast as given.

`--smoke` is CI's run: one round of a few hundred frames, every row; it
checks only that every pipeline ran and delivered frames, never a figure.

usage: compare.py [--rounds N] [--frames N] [--warmup N] [--paced N]
                  [--paced-warmup N] [--framecast PATH] [--also ROW]...
                  [--no-headless] [--smoke] [--json OUT]
"""

import argparse
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TESTDATA = os.path.join(ROOT, "crates", "codec", "testdata")
PYTHON = sys.executable
FPS = 30
# How long a receiver may stay up after its sender finished before it is
# stopped (a receiver that dropped frames never reaches its count).
LINGER_S = 3.0


def make_frames(work):
    """The 32-frame natural sequence as one raw RGB file (framecast, the
    Python peers) and one file per frame (GStreamer's multifilesrc)."""
    import cv2
    import numpy as np

    a = cv2.imread(os.path.join(TESTDATA, "bunny_640x480.png"))
    b = cv2.imread(os.path.join(TESTDATA, "motorcycle_640x480.png"))
    strip = np.hstack([a, b])[:, :, ::-1]  # BGR -> RGB
    raw = os.path.join(work, "frames.rgb")
    with open(raw, "wb") as f:
        for i in range(32):
            frame = np.ascontiguousarray(strip[:, 20 * i : 20 * i + 640])
            f.write(frame.tobytes())
            frame.tofile(os.path.join(work, f"frame{i:02d}.rgb"))
    return raw


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Whether something listens on 127.0.0.1:port (from /proc, so no probe
    connection reaches a server that serves one client)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":
                return True
    return False


def try_reap(proc, block=False):
    """The process's rusage if it has exited (reaping it), else None. Popen's
    own poll() would reap it first and lose the rusage."""
    pid, status, usage = os.wait4(proc.pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage


def wait_listening(port, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not listening(port):
        if try_reap(proc) is not None:
            err = proc.stderr.read().decode(errors="replace")
            raise RuntimeError(f"receiver exited early: {proc.args}: {err[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"receiver never listened on {port}")
        time.sleep(0.01)


def cpu_of(rusage):
    return rusage.ru_utime + rusage.ru_stime


def run_pair(receiver_cmd, sender_cmd, port):
    """Starts the receiver, waits for its socket, runs the sender, then waits
    for both. Returns (wall seconds from sender start to the receiver's exit,
    sender CPU seconds, receiver CPU seconds)."""
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    receiver = subprocess.Popen(receiver_cmd, **quiet)
    sender = None
    try:
        wait_listening(port, receiver)
        start = time.monotonic()
        sender = subprocess.Popen(sender_cmd, **quiet)
        s_usage = try_reap(sender, block=True)
        sender_done = time.monotonic()
        deadline = sender_done + LINGER_S
        r_usage = try_reap(receiver)
        while r_usage is None and time.monotonic() < deadline:
            time.sleep(0.002)
            r_usage = try_reap(receiver)
        end = time.monotonic()
        if r_usage is None:
            # A receiver that dropped frames (latest wins) waits for a count
            # it will not reach: stop it cleanly. It holds at most the last
            # frame when its sender is done, so the run ended then.
            receiver.send_signal(2)
            r_usage = try_reap(receiver, block=True)
            end = sender_done
        wall = end - start
    except BaseException:
        for proc in (receiver, sender):
            if proc is not None and proc.returncode is None:
                proc.kill()
        raise
    for proc in (sender, receiver):
        if proc.returncode not in (0, -2, 130):
            err = proc.stderr.read().decode(errors="replace")
            raise RuntimeError(f"{proc.args[0]} failed ({proc.returncode}): {err[-2000:]}")
    return wall, cpu_of(s_usage), cpu_of(r_usage)


def percentile(values, p):
    values = sorted(values)
    if not values:
        return None
    k = (len(values) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


class Original:
    """The original client's and server's processing and framing."""

    name = "Python/OpenCV (original)"

    def __init__(self, work, raw):
        self.work, self.raw = work, raw

    def run(self, count, fps):
        port = free_port()
        sent = os.path.join(self.work, "py_sent.json")
        got = os.path.join(self.work, "py_got.json")
        wall, s_cpu, r_cpu = run_pair(
            [PYTHON, os.path.join(HERE, "py_receiver.py"), "127.0.0.1", str(port), str(count), got],
            [PYTHON, os.path.join(HERE, "py_sender.py"), "127.0.0.1", str(port), self.raw,
             str(count), str(fps), sent],
            port,
        )
        with open(sent) as f:
            capture = json.load(f)["capture"]
        with open(got) as f:
            done = json.load(f)["done"]
        latency = [(d - c) * 1000 for c, d in zip(capture, done)]
        return {"wall": wall, "frames": len(done), "sender_cpu": s_cpu, "receiver_cpu": r_cpu,
                "latency_ms": latency}


class GStreamer:
    """videoscale -> jpegenc quality=95 -> multipart over TCP -> jpegdec ->
    videoscale 800x600 -> fakesink (Debian's GStreamer 1.22 packages)."""

    name = "GStreamer 1.22"

    def __init__(self, work, raw):
        self.frames = os.path.join(work, "frame%02d.rgb")

    def run(self, count, fps):
        port = free_port()
        receiver = ["gst-launch-1.0", "-q", "tcpserversrc", "host=127.0.0.1", f"port={port}",
                    "!", "multipartdemux", "!", "jpegdec", "!", "videoscale", "!",
                    "video/x-raw,width=800,height=600", "!", "fakesink", "sync=false"]
        # rawvideoparse stamps each frame at 1/30 s intervals; identity
        # sync=true then releases them on time when pacing.
        pace = ["identity", "sync=true", "!"] if fps else []
        sender = ["gst-launch-1.0", "-q", "multifilesrc", f"location={self.frames}", "loop=true",
                  f"num-buffers={count}", "!", "rawvideoparse", "width=640", "height=480",
                  "format=rgb", f"framerate={FPS}/1", "!", *pace, "videoscale", "!",
                  "video/x-raw,width=400,height=400", "!", "jpegenc", "quality=95", "!",
                  "multipartmux", "!", "tcpclientsink", "host=127.0.0.1", f"port={port}",
                  "sync=false"]
        wall, s_cpu, r_cpu = run_pair(receiver, sender, port)
        return {"wall": wall, "frames": count, "sender_cpu": s_cpu, "receiver_cpu": r_cpu,
                "latency_ms": None}


class Framecast:
    """framecast's own sender and receiver, through its command line. The
    receiver decodes and scales each frame to 800x600 off screen, as a
    window would, unless `recv_args` chooses another display."""

    def __init__(self, work, raw, binary, name="framecast", send_args=(), recv_args=()):
        self.work, self.raw, self.binary = work, raw, binary
        self.name = name
        self.send_args, self.recv_args = list(send_args), list(recv_args)

    def run(self, count, fps):
        port = free_port()
        stats = os.path.join(self.work, "fc_stats.json")
        if os.path.exists(stats):
            os.remove(stats)
        display = [] if "--display" in self.recv_args else [
            "--display", "offscreen", "--size", "800x600"]
        wall, s_cpu, r_cpu = run_pair(
            [self.binary, "recv", "--listen", f"127.0.0.1:{port}", *display,
             "--count", str(count), "--stats-json", stats, *self.recv_args],
            [self.binary, "send", "--to", f"127.0.0.1:{port}", "--source", f"raw:{self.raw}", "--loop",
             "--input-size", "640x480", "--fps", str(fps), "--count", str(count), *self.send_args],
            port,
        )
        with open(stats) as f:
            s = json.load(f)
        lat = s.get("latency_ms")
        return {"wall": wall, "frames": s["frames"], "sender_cpu": s_cpu, "receiver_cpu": r_cpu,
                "latency_ms": lat}


def also_row(spec, work, raw, binary):
    """A framecast row from `LABEL|BINARY|SEND ARGS|RECV ARGS`."""
    parts = spec.split("|")
    if len(parts) != 4 or not parts[0]:
        raise SystemExit(f"--also wants 'LABEL|BINARY|SEND ARGS|RECV ARGS', got {spec!r}")
    label, other, send, recv = parts
    return Framecast(work, raw, other or binary, label, shlex.split(send), shlex.split(recv))


def latency_summary(result):
    lat = result["latency_ms"]
    if lat is None:
        return None
    if isinstance(lat, dict):
        return lat["p50"], lat["p99"]
    return percentile(lat, 50), percentile(lat, 99)


def measure(tool, args):
    free_n = tool.run(args.frames, 0)
    free_0 = tool.run(args.warmup, 0)
    paced_n = tool.run(args.paced, FPS)
    paced_0 = tool.run(args.paced_warmup, FPS)
    runs = {"free": free_n, "free warm-up": free_0, "paced": paced_n, "paced warm-up": paced_0}
    empty = [what for what, r in runs.items() if not r["frames"]]
    if empty:
        raise RuntimeError(f"{tool.name}: no frames arrived in the {', '.join(empty)} run(s)")
    frames = free_n["frames"] - free_0["frames"]
    dt = free_n["wall"] - free_0["wall"]
    paced_frames = paced_n["frames"] - paced_0["frames"]
    if paced_frames <= 0:
        raise RuntimeError(f"{tool.name}: the paced runs delivered {paced_n['frames']} and "
                           f"{paced_0['frames']} frames")
    out = {
        "fps": frames / dt if dt > 0 else None,
        "dropped_free": args.frames - free_n["frames"],
        "paced_delivered": paced_n["frames"],
        "sender_cpu_us": (paced_n["sender_cpu"] - paced_0["sender_cpu"]) / paced_frames * 1e6,
        "receiver_cpu_us": (paced_n["receiver_cpu"] - paced_0["receiver_cpu"]) / paced_frames * 1e6,
        "latency_ms": latency_summary(paced_n),
    }
    return out


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int)
    p.add_argument("--frames", type=int, help="free-running frames (1,500; smoke 300)")
    p.add_argument("--warmup", type=int, help="free-running start-up run (150; smoke 60)")
    p.add_argument("--paced", type=int, help="frames paced at 30 fps (600; smoke 90)")
    p.add_argument("--paced-warmup", type=int, help="(90; smoke 30)")
    p.add_argument("--framecast", default=os.path.join(ROOT, "target", "release", "framecast"))
    p.add_argument("--also", action="append", default=[], metavar="ROW",
                   help="another framecast row: 'LABEL|BINARY|SEND ARGS|RECV ARGS'")
    p.add_argument("--no-headless", action="store_true",
                   help="leave out the headless framecast row (recv --display none)")
    p.add_argument("--smoke", action="store_true",
                   help="CI: one short round, checks only that every pipeline delivers frames")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    defaults = ((1, 300, 60, 90, 30) if args.smoke else (3, 1500, 150, 600, 90))
    for key, value in zip(("rounds", "frames", "warmup", "paced", "paced_warmup"), defaults):
        if getattr(args, key) is None:
            setattr(args, key, value)

    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="framecast-compare-") as work:
        raw = make_frames(work)
        tools = [Framecast(work, raw, args.framecast)]
        if not args.no_headless:
            tools.append(Framecast(work, raw, args.framecast,
                                   "framecast, headless (recv --display none: no scale)",
                                   recv_args=["--display", "none"]))
        tools += [also_row(spec, work, raw, args.framecast) for spec in args.also]
        tools += [GStreamer(work, raw), Original(work, raw)]
        rounds = {t.name: [] for t in tools}
        for r in range(args.rounds):
            for tool in tools:
                res = measure(tool, args)
                rounds[tool.name].append(res)
                lat = res["latency_ms"]
                print(f"round {r + 1} {tool.name}: {fmt(res['fps'], ',.0f')} frames/s, "
                      f"CPU/frame sender {res['sender_cpu_us']:,.0f} µs receiver "
                      f"{res['receiver_cpu_us']:,.0f} µs, latency "
                      f"{'—' if lat is None else f'{lat[0]:.2f} / {lat[1]:.2f} ms'}",
                      flush=True)
    load_end = os.getloadavg()

    summary = {}
    for tool in tools:
        rs = rounds[tool.name]
        lat = [r["latency_ms"] for r in rs if r["latency_ms"] is not None]
        summary[tool.name] = {
            "fps": median([r["fps"] for r in rs]),
            "sender_cpu_us": median([r["sender_cpu_us"] for r in rs]),
            "receiver_cpu_us": median([r["receiver_cpu_us"] for r in rs]),
            "latency_p50_ms": median([l[0] for l in lat]) if lat else None,
            "latency_p99_ms": median([l[1] for l in lat]) if lat else None,
            "rounds": rs,
        }
    fc = summary[tools[0].name]
    print()
    print(f"{args.rounds} rounds; load average at start {load_start[0]:.2f}, "
          f"at end {load_end[0]:.2f}; {os.cpu_count()} CPUs")
    print()
    print("| pipeline | frames/s (median) | framecast ÷ it | paced 30 fps latency p50 / p99 "
          "| CPU µs/frame sender | receiver | its CPU ÷ framecast's (sender, receiver) |")
    print("| --- | ---: | ---: | --- | ---: | ---: | --- |")
    for tool in tools:
        s = summary[tool.name]
        # Both ratios read "how many times framecast's figure is it".
        ratio = fc["fps"] / s["fps"] if s["fps"] and fc["fps"] else None
        cpu_ratio = (s["sender_cpu_us"] / fc["sender_cpu_us"],
                     s["receiver_cpu_us"] / fc["receiver_cpu_us"])
        lat = ("—" if s["latency_p50_ms"] is None
               else f"{s['latency_p50_ms']:.2f} / {s['latency_p99_ms']:.2f} ms")
        print(f"| {tool.name} | {fmt(s['fps'], ',.0f')} | {fmt(ratio, '.2f')}x | {lat} "
              f"| {s['sender_cpu_us']:,.0f} | {s['receiver_cpu_us']:,.0f} "
              f"| {cpu_ratio[0]:.2f}x, {cpu_ratio[1]:.2f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_start": load_start, "load_end": load_end, "args": vars(args),
                       "results": summary}, f, indent=2)
    if args.smoke:
        print(f"\ncompare smoke: all {len(tools)} pipelines ran and delivered frames "
              "(no figure is checked)")


if __name__ == "__main__":
    main()
