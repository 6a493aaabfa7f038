"""The original lab's `video_pb2` module, generated at run time.

The original programs import `video_pb2`, compiled by protoc from a
`video.proto` that holds one message with one field:

    message Video { bytes video_data = 1; }

This module writes that file to a temporary directory, compiles it with
grpcio-tools' bundled protoc, and imports the result, so the peers below use
the real `protobuf` package exactly as the originals did.
"""

import importlib
import os
import sys
import tempfile

VIDEO_PROTO = """
syntax = "proto3";

message Video {
  bytes video_data = 1;
}
"""


def load_video_pb2():
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="framecast-legacy-")
    with open(os.path.join(out, "video.proto"), "w") as f:
        f.write(VIDEO_PROTO)
    status = protoc.main(["protoc", "-I" + out, "--python_out=" + out, "video.proto"])
    if status != 0:
        raise RuntimeError("protoc failed with status %d" % status)
    sys.path.insert(0, out)
    return importlib.import_module("video_pb2")
