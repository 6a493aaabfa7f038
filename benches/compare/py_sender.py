"""The original client's processing and framing, minus the window.

For each frame of a raw 640x480 RGB file (looping): resize to 400x400 with
INTER_AREA, `cv2.imencode('.jpg', ...)` (quality 95, OpenCV's default), put
the bytes in `Video.video_data`, and send `struct.pack("l", len) + message`
(an 8-byte native length on 64-bit Linux) over TCP. Frames are held as BGR,
as a camera gives them to OpenCV. With FPS > 0 each frame is due at
start + i / FPS (no drift); 0 sends as fast as the socket takes them.

Writes {"capture": [t, ...]} to OUT_JSON: each frame's capture time
(CLOCK_MONOTONIC seconds, taken when the frame is picked up, before the
resize), for the receiver's side to compute latency.

With SECONDS, it stops after that long even if COUNT frames were not sent
(on a slow link, scripts/link-bench.sh).

usage: py_sender.py HOST PORT RAW_FILE COUNT FPS OUT_JSON [SECONDS]
"""

import json
import socket
import struct
import sys
import time

import cv2
import numpy as np

from video import video_class


def main():
    host, port, raw_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    count, fps, out_path = int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
    max_seconds = float(sys.argv[7]) if len(sys.argv) > 7 else None
    frames = np.fromfile(raw_path, dtype=np.uint8).reshape(-1, 480, 640, 3)
    frames = [np.ascontiguousarray(f[:, :, ::-1]) for f in frames]  # RGB -> BGR
    Video = video_class()

    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    message = Video()
    captured = []
    start = time.monotonic()
    for i in range(count):
        if max_seconds is not None and time.monotonic() - start >= max_seconds:
            break
        if fps > 0:
            delay = start + i / fps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        captured.append(time.monotonic())
        frame = frames[i % len(frames)]
        frame = cv2.resize(frame, (400, 400), interpolation=cv2.INTER_AREA)
        _, jpeg = cv2.imencode(".jpg", frame)
        message.video_data = jpeg.tobytes()
        data = message.SerializeToString()
        sock.sendall(struct.pack("l", len(data)) + data)
    sock.close()
    with open(out_path, "w") as f:
        json.dump({"capture": captured}, f)


if __name__ == "__main__":
    main()
