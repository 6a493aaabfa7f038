"""The original server's processing and framing, minus the window.

Listens on HOST:PORT, accepts one connection and reads frames as the
original meant to (it did not: it read 4 bytes at a time, and `readAll`
could merge or split frames): an 8-byte `struct.pack("l", n)` length, then
exactly n bytes, parsed as `Video`; then `cv2.imdecode` and a resize to
800x600 with INTER_AREA. Stops after COUNT frames or when the peer closes.

Writes {"frames": n, "done": [t, ...]} to OUT_JSON: when each frame's
800x600 picture was ready (CLOCK_MONOTONIC seconds).

usage: py_receiver.py HOST PORT COUNT OUT_JSON
"""

import json
import socket
import struct
import sys
import time

import cv2
import numpy as np

from video import video_class

PREFIX = struct.calcsize("l")


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    count, out_path = int(sys.argv[3]), sys.argv[4]
    Video = video_class()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(1)
    conn, _ = server.accept()
    message = Video()
    done = []
    # recv may return more than asked when asked for a large read; keep the
    # surplus for the next frame.
    pending = bytearray()

    def take(n):
        while len(pending) < n:
            chunk = conn.recv(1 << 20)
            if not chunk:
                return None
            pending.extend(chunk)
        out = bytes(pending[:n])
        del pending[:n]
        return out

    while len(done) < count:
        head = take(PREFIX)
        if head is None:
            break
        (size,) = struct.unpack("l", head)
        body = take(size)
        if body is None:
            break
        message.ParseFromString(body)
        frame = np.frombuffer(message.video_data, dtype=np.uint8)
        frame = cv2.imdecode(frame, cv2.IMREAD_UNCHANGED)
        frame = cv2.resize(frame, (800, 600), interpolation=cv2.INTER_AREA)
        done.append(time.monotonic())
    conn.close()
    server.close()
    with open(out_path, "w") as f:
        json.dump({"frames": len(done), "done": done}, f)


if __name__ == "__main__":
    main()
