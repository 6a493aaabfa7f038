"""Where framecast's CPU per frame goes: each thread of `framecast send` and
`framecast recv --display none`, paced or free-running, on the same frames
as compare.py.

For each run a receiver and a sender stream the 32 natural frames (640x480
RGB, looping, resized to 400x400, JPEG q95, decoded and scaled to 800x600)
for WARMUP seconds, then, over a window of WINDOW seconds, `perf stat
--per-thread` counts each thread's CPU time (cpu-clock), system calls
(raw_syscalls:sys_enter) and times it was switched out (sched:sched_switch:
for a thread that blocks, one per wake-up). Frames in the window come from
the bytes the connection carried (`ss`, divided by the mean frame size from
the receiver's final stats), so free-running runs, where the receiver drops
frames, are counted right: per frame sent and received, and for the
receiver per frame shown too (it decodes only the frames it shows).

With --record, a second window samples both processes with `perf record -e
cpu-clock` and sorts the samples into what they were spent on: the codecs
(zune-jpeg, libjpeg-turbo-rs, framecast-codec's resize), the kernel (split
into system-call entry, socket and TCP work, scheduling and futexes, and
the rest), the async runtime (tokio), the allocator, protobuf, and the
engine's own code.

Needs `perf` (Debian's linux-perf) with software events and tracepoints;
run as root. Each run prints a table; --json OUT keeps the numbers.

With --floor STAGES, the codecs alone are measured too, before and after
the runs: CPU time per frame of the codec crate's `stages` example (one
thread, the same frames) for the sender's resize + encode and the
receiver's decode + scale, and each part alone.

usage: profile.py [--framecast PATH] [--fps 30] [--fps 0] [--warmup S]
                  [--window S] [--record] [--floor STAGES] [--json OUT]
                  [--send-arg ARG]... [--recv-arg ARG]...
"""

import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import compare

HERE = os.path.dirname(os.path.abspath(__file__))


def bytes_received(port):
    """Bytes the receiver's end of the loopback connection to `port` has
    received (`ss`'s bytes_received): frames moved, whatever system calls
    read them."""
    out = subprocess.run(["ss", "-tinH", "state", "established", "sport", f"= :{port}"],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"bytes_received:(\d+)", out)
    return int(m.group(1)) if m else 0


def thread_names(pid):
    names = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                names[int(tid)] = f.read().strip()
        except OSError:
            pass
    return names


PERF_LINE = re.compile(r"^\s*(\S+)-(\d+)\s+([\d,.]+|<not counted>)\s+(msec\s+)?(\S+)")


def perf_stat(pids, seconds, work):
    """Starts `perf stat --per-thread` on each pid for `seconds`; returns the
    processes and their output files."""
    runs = []
    for pid in pids:
        out = os.path.join(work, f"stat-{pid}.txt")
        proc = subprocess.Popen(
            ["perf", "stat", "--per-thread", "-x", ";", "-o", out, "-p", str(pid), "-e",
             "cpu-clock,raw_syscalls:sys_enter,sched:sched_switch", "--", "sleep", str(seconds)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        runs.append((pid, proc, out))
    return runs


def parse_stat(path, names):
    """{thread name: {cpu_ms, syscalls, switches}} from perf's CSV output;
    threads of one name (the workers) are kept apart by a number."""
    threads = collections.defaultdict(lambda: {"cpu_ms": 0.0, "syscalls": 0, "switches": 0})
    with open(path) as f:
        for line in f:
            fields = line.strip().split(";")
            if len(fields) < 4 or not fields[0] or fields[0].startswith("#"):
                continue
            comm_tid, value, _unit, event = fields[0], fields[1], fields[2], fields[3]
            if "-" not in comm_tid or value.startswith("<"):
                continue
            tid = int(comm_tid.rsplit("-", 1)[1])
            name = names.get(tid, comm_tid.rsplit("-", 1)[0])
            key = f"{name} ({tid})"
            v = float(value)
            if event.startswith("cpu-clock"):
                threads[key]["cpu_ms"] += v
            elif event.startswith("raw_syscalls"):
                threads[key]["syscalls"] += int(v)
            elif event.startswith("sched"):
                threads[key]["switches"] += int(v)
    return dict(threads)


# What a sample in user space was doing, by its function (first match
# wins). Samples in the kernel are sorted by the system call they are in.
USER_CLASSES = [
    ("codec: JPEG decode (zune-jpeg)", r"zune_jpeg|zune_core"),
    ("codec: JPEG encode (libjpeg-turbo-rs)", r"libjpeg_turbo_rs"),
    ("codec: resize/convert (framecast-codec)", r"framecast_codec|framecast_image"),
    ("async runtime (tokio, mio)", r"tokio|mio::"),
    ("allocator (malloc/free)", r"malloc|free|_int_|cfree|realloc|tcache"),
    ("memcpy/memset (libc)", r"__memmove|__memcpy|__memset|memcpy|memmove|memset"),
    ("protobuf (prost)", r"prost"),
    ("engine: stream, wire, display, capture, apps", r"framecast|bytes::"),
]

# System calls by what they are for.
SYSCALL_CLASSES = [
    ("kernel: socket writes (incl. loopback delivery)", r"^(writev|write|sendmsg|sendto)$"),
    ("kernel: socket reads", r"^(recvfrom|recvmsg|readv)$"),
    ("kernel: futex (hand-offs, wake-ups)", r"^futex$"),
    ("kernel: epoll", r"^epoll"),
    ("kernel: sleeps (pacing, ticks)", r"nanosleep"),
    ("kernel: clock", r"clock_gettime"),
]


def classify(comm, stack):
    """`stack`: [(symbol, dso)] from the sampled function outwards."""
    sym, dso = stack[0] if stack else ("", "")
    if not dso.startswith("[kernel"):
        key = f"{dso} {sym}"
        for name, pattern in USER_CLASSES:
            if re.search(pattern, key):
                return name
        return "other (libc, std)"
    call = None
    for s, _ in stack:
        m = re.match(r"__(?:x64|ia32)_sys_(\w+)", s)
        if m:
            call = m.group(1)
            break
    if call is None:
        # The handler's own frame can be missing (inlined into the
        # dispatcher): the libc function that made the call names it.
        user = next((s for s, d in stack if not d.startswith("[kernel")), None)
        if user is not None and any(s.startswith("entry_SYSCALL") for s, _ in stack):
            name = re.sub(r"@.*", "", user)
            name = re.sub(r"^(__GI_|__libc_|__)+", "", name)
            call = {"syscall": "futex", "llseek": "lseek", "lseek64": "lseek"}.get(name, name)
    if call is None:
        return "kernel: interrupts, scheduler (no system call)"
    if call == "read":
        # The raw file source reads its frames with read(2); the receiver's
        # sockets are read with recvfrom.
        return "kernel: file reads (the raw source)" if "captu" in comm else "kernel: read"
    for name, pattern in SYSCALL_CLASSES:
        if re.search(pattern, call):
            return name
    return f"kernel: other system calls ({call})"


def perf_record(pids, seconds, work):
    runs = []
    for pid in pids:
        out = os.path.join(work, f"record-{pid}.data")
        proc = subprocess.Popen(
            ["perf", "record", "-q", "-g", "-e", "cpu-clock", "-F", "4000", "-o", out, "-p",
             str(pid), "--", "sleep", str(seconds)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        runs.append((pid, proc, out))
    return runs


def parse_record(path):
    """Samples per (thread, class), and per (class, function) for the top
    functions."""
    script = subprocess.run(
        ["perf", "script", "-i", path, "-F", "comm,tid,ip,sym,dso"],
        capture_output=True, text=True, check=True).stdout
    by_thread = collections.defaultdict(collections.Counter)
    by_symbol = collections.Counter()
    for block in script.split("\n\n"):
        lines = [l for l in block.splitlines() if l.strip()]
        if not lines:
            continue
        comm = lines[0].split()[0]
        stack = []
        for line in lines[1:]:
            m = re.match(r"^\s*[0-9a-f]+\s+(.*)\s+\((.*)\)$", line)
            if m:
                stack.append((m.group(1), m.group(2)))
        cls = classify(comm, stack)
        by_thread[comm][cls] += 1
        by_symbol[(cls, stack[0][0] if stack else "?")] += 1
    return by_thread, by_symbol


def run(binary, raw, fps, warmup, window, record, extra_send, extra_recv, work):
    port = compare.free_port()
    stats = os.path.join(work, f"stats-{fps}.json")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    # Decode and scale as a window would, unless told otherwise.
    display = [] if "--display" in extra_recv else ["--display", "offscreen"]
    receiver = subprocess.Popen(
        [binary, "recv", "--listen", f"127.0.0.1:{port}", *display, "-q",
         "--stats-json", stats, *extra_recv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sender = None
    try:
        compare.wait_listening(port, receiver)
        sender = subprocess.Popen(
            [binary, "send", "--to", f"127.0.0.1:{port}", "--source", f"raw:{raw}", "--loop",
             "--input-size", "640x480", "--fps", str(fps), "-q", *extra_send], **quiet)
        time.sleep(warmup)
        pids = {"sender": sender.pid, "receiver": receiver.pid}
        names = {side: thread_names(pid) for side, pid in pids.items()}
        io0 = bytes_received(port)
        t0 = time.monotonic()
        stat_runs = perf_stat(pids.values(), window, work)
        for _, proc, _ in stat_runs:
            proc.wait()
        t1 = time.monotonic()
        io1 = bytes_received(port)
        records = perf_record(pids.values(), window, work) if record else []
        for _, proc, _ in records:
            proc.wait()
    finally:
        for proc in (sender, receiver):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in (sender, receiver):
            if proc is not None:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    with open(stats) as f:
        final = json.load(f)
    frame_bytes = final["bytes"] / max(final["received"], 1)
    # Each frame is its 4-byte prefix and its message. Over loopback what
    # the sender wrote is what arrived a moment later.
    received = (io1 - io0) / (frame_bytes + 4)
    sent = received
    # The receiver decodes only the frames it shows (a newer frame replaces
    # an unshown one): the share shown over the whole run, applied to the
    # window.
    shown = received * final["frames"] / max(final["received"], 1)
    result = {"fps_asked": fps, "window_s": t1 - t0, "frame_bytes": frame_bytes,
              "frames_sent": sent, "frames_received": received, "frames_shown": shown,
              "final": {k: final.get(k) for k in ("frames", "received", "dropped", "latency_ms")},
              "sides": {}}
    for (side, pid), (_, _, path) in zip(pids.items(), stat_runs):
        frames = sent if side == "sender" else received
        threads = parse_stat(path, names[side])
        per_frame = {
            name: {"cpu_us": t["cpu_ms"] * 1000 / frames, "syscalls": t["syscalls"] / frames,
                   "switches": t["switches"] / frames}
            for name, t in sorted(threads.items()) if t["cpu_ms"] > 0 or t["switches"] > 0
        }
        total = {k: sum(t[k] for t in per_frame.values()) for k in ("cpu_us", "syscalls", "switches")}
        result["sides"][side] = {"frames": frames, "threads": per_frame, "total": total}
        if side == "receiver":
            result["sides"][side]["cpu_us_per_frame_shown"] = total["cpu_us"] * frames / max(shown, 1)
    for (side, pid), (_, _, path) in zip(pids.items(), records):
        by_thread, by_symbol = parse_record(path)
        samples = sum(sum(c.values()) for c in by_thread.values())
        cpu = result["sides"][side]["total"]["cpu_us"]
        classes = collections.Counter()
        for c in by_thread.values():
            classes.update(c)
        result["sides"][side]["classes_us"] = {
            cls: n / samples * cpu for cls, n in classes.most_common()}
        result["sides"][side]["threads_classes_us"] = {
            comm: {cls: n / samples * cpu for cls, n in c.most_common()}
            for comm, c in by_thread.items()}
        result["sides"][side]["top_symbols_us"] = [
            [cls, sym, n / samples * cpu] for (cls, sym), n in by_symbol.most_common(40)]
    return result


def floor(stages, n=600):
    """The codecs alone, in one thread, on the same natural frames: CPU µs
    per frame of the codec crate's `stages` example for each stage, from
    two runs (n frames and none) so start-up cancels out."""
    def cpu(stage, count):
        proc = subprocess.Popen([stages, stage, str(count)], stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise RuntimeError(f"{stages} {stage} {count} failed ({status})")
        return usage.ru_utime + usage.ru_stime
    out = {}
    for stage in ("sender", "resize", "encode", "receiver", "decode", "upscale"):
        out[stage] = (cpu(stage, n) - cpu(stage, 0)) / n * 1e6
    return out


def print_result(r):
    mode = "free-running" if r["fps_asked"] == 0 else f"paced at {r['fps_asked']} fps"
    print(f"\n## {mode}: window {r['window_s']:.1f} s, {r['frames_sent']:.0f} frames sent, "
          f"{r['frames_received']:.0f} received, {r['frame_bytes']:,.0f} bytes a frame")
    for side, s in r["sides"].items():
        per = "sent" if side == "sender" else "received"
        print(f"\n{side}: per frame {per}")
        print("| thread | CPU µs | system calls | switches (wake-ups) |")
        print("| --- | ---: | ---: | ---: |")
        for name, t in s["threads"].items():
            print(f"| {name} | {t['cpu_us']:,.0f} | {t['syscalls']:.1f} | {t['switches']:.2f} |")
        t = s["total"]
        print(f"| **all** | **{t['cpu_us']:,.0f}** | **{t['syscalls']:.1f}** | "
              f"**{t['switches']:.2f}** |")
        if "cpu_us_per_frame_shown" in s:
            print(f"\n(per frame shown: {s['cpu_us_per_frame_shown']:,.0f} µs; "
                  f"{r['frames_shown']:.0f} of {r['frames_received']:.0f} received were shown)")
        if "classes_us" in s:
            print("\n| spent on | CPU µs per frame |")
            print("| --- | ---: |")
            for cls, us in s["classes_us"].items():
                print(f"| {cls} | {us:,.0f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--framecast", default=os.path.join(compare.ROOT, "target", "release",
                                                       "framecast"))
    p.add_argument("--fps", type=int, action="append", help="30 (paced) or 0 (free); repeatable")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--window", type=float, default=10.0)
    p.add_argument("--record", action="store_true", help="also sample where the CPU goes")
    p.add_argument("--recv-arg", action="append", default=[], help="extra argument to recv")
    p.add_argument("--send-arg", action="append", default=[], help="extra argument to send")
    p.add_argument("--floor", metavar="STAGES",
                   help="also measure the codecs alone with this build of the codec crate's "
                        "`stages` example (cargo build --release -p framecast-codec --example "
                        "stages), before and after the runs")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    load_start = os.getloadavg()
    results = []
    floors = []
    if args.floor:
        floors.append(floor(args.floor))
    with tempfile.TemporaryDirectory(prefix="framecast-profile-") as work:
        raw = compare.make_frames(work)
        for fps in args.fps or [30, 0]:
            r = run(args.framecast, raw, fps, args.warmup, args.window, args.record,
                    args.send_arg, args.recv_arg, work)
            results.append(r)
            print_result(r)
    if args.floor:
        floors.append(floor(args.floor))
        print("\nthe codecs alone (CPU µs per frame, one thread; before and after the runs)")
        print("| stage | before | after |")
        print("| --- | ---: | ---: |")
        for stage in floors[0]:
            print(f"| {stage} | {floors[0][stage]:,.0f} | {floors[1][stage]:,.0f} |")
    load_end = os.getloadavg()
    print(f"\nload average at start {load_start[0]:.2f}, at end {load_end[0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_start": load_start, "load_end": load_end, "runs": results,
                       "floor": floors}, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
