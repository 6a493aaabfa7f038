"""A receiver with the original lab server's framing and processing.

It listens on 127.0.0.1 (port 0: a free one, printed as "listening on
PORT"), accepts one connection and reads frames as the original meant to:
an 8-byte `struct.pack("l", n)` length, then n bytes parsed with the real
protobuf package as the original's one-field `Video` message (framecast's
extra fields are unknown to it and skipped), then `cv2.imdecode` and a
resize to 800x600 with INTER_AREA. Unlike the original it reads exactly the
announced bytes (the original could split or merge frames).

It writes every received `video_data` to OUT_MJPEG and prints one JSON line:
{"frames": n, "shapes": [[h, w, c], ...], "sizes": [bytes, ...]}.

usage: legacy_server.py COUNT OUT_MJPEG
"""

import json
import socket
import struct
import sys

import cv2
import numpy as np

from legacy_video import load_video_pb2


def read_exactly(conn, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None if not buf else bytes(buf)
        buf += chunk
    return bytes(buf)


def main():
    count, out_path = int(sys.argv[1]), sys.argv[2]
    video_pb2 = load_video_pb2()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    print("listening on %d" % server.getsockname()[1], flush=True)
    conn, _ = server.accept()
    message = video_pb2.Video()
    payload_size = struct.calcsize("l")
    shapes, sizes = [], []
    with open(out_path, "wb") as out:
        while len(shapes) < count:
            header = read_exactly(conn, payload_size)
            if header is None or len(header) < payload_size:
                break
            msg_size = struct.unpack("l", header)[0]
            frame_data = read_exactly(conn, msg_size)
            if frame_data is None or len(frame_data) < msg_size:
                break
            message.ParseFromString(frame_data)
            frame = np.frombuffer(message.video_data, dtype=np.uint8)
            frame = cv2.imdecode(frame, cv2.IMREAD_UNCHANGED)
            if frame is None:
                raise SystemExit("frame %d did not decode" % len(shapes))
            shapes.append(list(frame.shape))
            sizes.append(len(message.video_data))
            cv2.resize(frame, (800, 600), interpolation=cv2.INTER_AREA)
            out.write(message.video_data)
    conn.close()
    print(json.dumps({"frames": len(shapes), "shapes": shapes, "sizes": sizes}), flush=True)


if __name__ == "__main__":
    main()
