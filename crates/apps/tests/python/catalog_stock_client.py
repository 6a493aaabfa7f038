"""A stock gRPC client for `framecast catalog serve`.

Generates the Python client from `ecommerce.proto` with grpcio-tools (the
same file the original lab shipped), then runs addProduct, getProduct and
delProduct, a health check (grpcio-health-checking) and reflection listings
(grpcio-reflection's v1alpha client, and v1 spoken with the same messages,
which are wire-identical) against the server.

Prints one JSON object: each check's name mapped to what happened (a gRPC
status code name, or a value). The Rust test that runs this compares it with
what the Rust client sees. Exits non-zero only if the script itself breaks.

Usage: catalog_stock_client.py PROTO_FILE HOST:PORT WORK_DIR
"""

import importlib
import json
import math
import os
import sys


def main():
    proto, target, work = sys.argv[1:4]
    proto_dir, proto_name = os.path.split(os.path.abspath(proto))

    from grpc_tools import protoc

    rc = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{proto_dir}",
            f"--python_out={work}",
            f"--grpc_python_out={work}",
            proto_name,
        ]
    )
    if rc != 0:
        raise SystemExit(f"protoc failed with {rc}")
    sys.path.insert(0, work)
    stem = proto_name.removesuffix(".proto")
    pb2 = importlib.import_module(f"{stem}_pb2")
    pb2_grpc = importlib.import_module(f"{stem}_pb2_grpc")

    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )
    from google.protobuf.descriptor_pool import DescriptorPool

    out = {}
    channel = grpc.insecure_channel(target)
    grpc.channel_ready_future(channel).result(timeout=10)
    stub = pb2_grpc.ProductInfoStub(channel)

    def call(name, method, request):
        """Runs one RPC; records OK or the status code name."""
        try:
            response = method(request, timeout=10)
            out[name] = "OK"
            return response
        except grpc.RpcError as e:
            out[name] = e.code().name
            out[name + ".message"] = e.details()
            return None

    product = pb2.Product(name="Desk lamp", description="LED", price=24.5)
    new_id = call("add", stub.addProduct, product)
    out["add.id"] = new_id.value if new_id else None
    out["add.id_length"] = len(new_id.value) if new_id else None
    got = call("get", stub.getProduct, new_id or pb2.ProductID(value="x"))
    if got:
        out["get.fields"] = [got.id == new_id.value, got.name, got.description, got.price]

    chosen = call("add_chosen", stub.addProduct, pb2.Product(id="py-1", name="Chair", price=40))
    out["add_chosen.id"] = chosen.value if chosen else None
    call("add_duplicate", stub.addProduct, pb2.Product(id="py-1", name="Other", price=1))
    call("get_missing", stub.getProduct, pb2.ProductID(value="no-such-id"))
    deleted = call("del", stub.delProduct, pb2.ProductID(value="py-1"))
    out["del.name"] = deleted.name if deleted else None
    call("del_again", stub.delProduct, pb2.ProductID(value="py-1"))
    call("get_deleted", stub.getProduct, pb2.ProductID(value="py-1"))
    call("add_empty_name", stub.addProduct, pb2.Product(name="", price=1))
    call("add_negative_price", stub.addProduct, pb2.Product(name="a", price=-1))
    call("add_nan_price", stub.addProduct, pb2.Product(name="a", price=math.nan))
    call("add_infinite_price", stub.addProduct, pb2.Product(name="a", price=math.inf))
    call("add_long_name", stub.addProduct, pb2.Product(name="n" * 257, price=1))
    call("get_empty_id", stub.getProduct, pb2.ProductID(value=""))

    health = health_pb2_grpc.HealthStub(channel)
    for service in ["", "ecommerce.ProductInfo"]:
        response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        out[f"health[{service}]"] = health_pb2.HealthCheckResponse.ServingStatus.Name(
            response.status
        )

    # v1alpha through grpcio-reflection's own client, then a descriptor pool
    # built from reflection alone finds the service and its methods.
    database = ProtoReflectionDescriptorDatabase(channel)
    out["reflection.v1alpha.services"] = sorted(database.get_services())
    pool = DescriptorPool(database)
    service = pool.FindServiceByName("ecommerce.ProductInfo")
    out["reflection.v1alpha.methods"] = sorted(m.name for m in service.methods)

    # v1: the package ships only the v1alpha client, but the v1 messages are
    # the same on the wire; speak the v1 method with them.
    v1 = channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    responses = v1(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
    out["reflection.v1.services"] = sorted(
        s.name for r in responses for s in r.list_services_response.service
    )

    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
