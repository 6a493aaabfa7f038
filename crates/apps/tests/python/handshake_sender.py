"""A sender written from docs/protocol.md alone: the session handshake, then
u32-framed `Video` messages carrying OpenCV JPEGs.

    python handshake_sender.py PROTO_DIR HOST PORT NAME FRAMES

PROTO_DIR holds the project's `video.proto` and `handshake.proto`; they are
compiled at run time with grpcio-tools' bundled protoc, so the messages come
from the real `protobuf` package. Prints "sent N frames as stream ID" on
success; on a refusal prints "refused: REASON" and exits with status 3.
"""

import importlib
import os
import shutil
import socket
import struct
import sys
import tempfile

import cv2
import numpy as np


def load(proto_dir):
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="framecast-handshake-")
    for name in ("video.proto", "handshake.proto"):
        shutil.copy(os.path.join(proto_dir, name), out)
    status = protoc.main(
        ["protoc", "-I" + out, "--python_out=" + out, "video.proto", "handshake.proto"]
    )
    if status != 0:
        raise RuntimeError("protoc failed with status %d" % status)
    sys.path.insert(0, out)
    return importlib.import_module("handshake_pb2"), importlib.import_module("video_pb2")


MAX_FRAME_LEN = 8 * 1024 * 1024


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the receiver closed the connection during the handshake")
        data += chunk
    return data


def start_session(handshake_pb2, sock, name):
    body = handshake_pb2.Hello(name=name, software="my-sender/1.0").SerializeToString()
    sock.sendall(b"FCST" + bytes([1]) + struct.pack("<H", len(body)) + body)
    envelope = recv_exact(sock, 7)
    if envelope[:4] != b"FCRS" or envelope[4] != 1:
        raise ValueError("not a framecast status: " + envelope.hex(" "))
    (length,) = struct.unpack("<H", envelope[5:7])
    if length > 4096:
        raise ValueError("status body of %d bytes exceeds the 4096-byte limit" % length)
    status = handshake_pb2.Status.FromString(recv_exact(sock, length))
    if status.code != handshake_pb2.STATUS_CODE_ACCEPTED:
        raise ConnectionRefusedError(status.reason)
    return status


def send_frame(video_pb2, sock, jpeg, sequence):
    payload = video_pb2.Video(video_data=jpeg, sequence=sequence).SerializeToString()
    if len(payload) > MAX_FRAME_LEN:
        raise ValueError("frame of %d bytes exceeds the %d-byte limit" % (len(payload), MAX_FRAME_LEN))
    sock.sendall(struct.pack("<I", len(payload)) + payload)


def main():
    proto_dir, host, port, name, frames = sys.argv[1:6]
    handshake_pb2, video_pb2 = load(proto_dir)
    sock = socket.create_connection((host, int(port)), timeout=30)
    try:
        status = start_session(handshake_pb2, sock, name)
    except ConnectionRefusedError as e:
        print("refused: %s" % e, flush=True)
        sys.exit(3)
    for i in range(int(frames)):
        img = np.full((120, 160, 3), (i * 20) % 256, dtype=np.uint8)
        ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        send_frame(video_pb2, sock, jpeg.tobytes(), i)
    sock.shutdown(socket.SHUT_WR)
    sock.recv(1)
    sock.close()
    print("sent %s frames as stream %d" % (frames, status.stream_id), flush=True)


if __name__ == "__main__":
    main()
