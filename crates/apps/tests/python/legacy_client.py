"""A client that frames exactly like the original lab's client.py.

The original grabs webcam frames; this one reads 640x480 BGR frames from a
raw file (concatenated, looping) instead, then does what the original does
with each: resize to 400x400 with INTER_AREA, cv2.imencode('.jpg'), put the
bytes in `Video.video_data` alone, and send
`struct.pack("l", len(serialized)) + serialized`.

usage: legacy_client.py HOST PORT RAW_FILE WIDTH HEIGHT COUNT FPS
"""

import socket
import struct
import sys
import time

import cv2
import numpy as np

from legacy_video import load_video_pb2


def main():
    host, port, raw_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    width, height, count, fps = (int(a) for a in sys.argv[4:8])
    video_pb2 = load_video_pb2()

    frame_bytes = width * height * 3
    data = np.fromfile(raw_path, dtype=np.uint8)
    frames = data.reshape(-1, height, width, 3)
    assert len(data) == len(frames) * frame_bytes

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect((host, port))
    message = video_pb2.Video()
    for i in range(count):
        frame = frames[i % len(frames)]
        frame = cv2.resize(frame, (400, 400), interpolation=cv2.INTER_AREA)
        _, frame = cv2.imencode('.jpg', frame)
        string_data = frame.tobytes()
        message.video_data = string_data
        serialized_message = message.SerializeToString()
        sock.sendall(struct.pack("l", len(serialized_message)) + serialized_message)
        if fps:
            time.sleep(1.0 / fps)
    sock.close()
    print("sent %d frames" % count)


if __name__ == "__main__":
    main()
