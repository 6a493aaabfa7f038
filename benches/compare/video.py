"""The original programs' `Video` protobuf message, built at run time.

The originals import a `video_pb2` compiled by protoc from a `video.proto`
holding `message Video { bytes video_data = 1; }`. The same message is
described here with the protobuf package's own descriptor API, so the peers
use the real protobuf runtime (parse and serialise) without protoc.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def video_class():
    """The `Video` message class: one `bytes video_data = 1` field."""
    file = descriptor_pb2.FileDescriptorProto(name="video.proto", syntax="proto3")
    message = file.message_type.add(name="Video")
    message.field.add(
        name="video_data",
        number=1,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("Video"))
