"""A stock gRPC client for `framecast catalog serve` over TLS with a token.

Generates the Python client from `ecommerce.proto` with grpcio-tools, then,
over a TLS channel that trusts CA_PEM:
- with the token (`authorization: Bearer TOKEN` metadata): addProduct,
  getProduct, delProduct;
- without it: addProduct, getProduct and reflection (all expected to be
  refused), and a health check (expected to work);
- with a wrong token;
and, trusting WRONG_CA_PEM instead, or expecting another host name, a call
that must fail before reaching the server.

Prints one JSON object: each check's name mapped to what happened (a gRPC
status code name, or a value). Exits non-zero only if the script breaks.

Usage: catalog_tls_client.py PROTO_FILE HOST:PORT CA_PEM WRONG_CA_PEM TOKEN_FILE WORK_DIR
"""

import importlib
import json
import os
import sys


def main():
    proto, target, ca, wrong_ca, token_file, work = sys.argv[1:7]
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
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with open(token_file) as f:
        token = f.read().strip()
    with open(ca, "rb") as f:
        ca_pem = f.read()
    with open(wrong_ca, "rb") as f:
        wrong_ca_pem = f.read()

    out = {}

    def call(name, method, request, metadata=None):
        """Runs one RPC; records OK or the status code name."""
        try:
            response = method(request, timeout=10, metadata=metadata)
            out[name] = "OK"
            return response
        except grpc.RpcError as e:
            out[name] = e.code().name
            out[name + ".message"] = e.details()
            return None

    channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca_pem))
    stub = pb2_grpc.ProductInfoStub(channel)
    auth = [("authorization", f"Bearer {token}")]

    new_id = call("add", stub.addProduct, pb2.Product(name="Desk lamp", price=24.5), auth)
    got = call("get", stub.getProduct, new_id or pb2.ProductID(value="x"), auth)
    out["get.name"] = got.name if got else None
    deleted = call("del", stub.delProduct, new_id or pb2.ProductID(value="x"), auth)
    out["del.name"] = deleted.name if deleted else None

    call("add_without_token", stub.addProduct, pb2.Product(name="a", price=1))
    call("get_without_token", stub.getProduct, pb2.ProductID(value="x"))
    wrong = [("authorization", "Bearer " + "w" * len(token))]
    call("add_wrong_token", stub.addProduct, pb2.Product(name="a", price=1), wrong)

    health = health_pb2_grpc.HealthStub(channel)
    response = call("health_without_token", health.Check, health_pb2.HealthCheckRequest(service=""))
    if response:
        out["health.status"] = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)

    def list_services(metadata):
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        responses = reflection.ServerReflectionInfo(iter([request]), timeout=10, metadata=metadata)
        return sorted(s.name for r in responses for s in r.list_services_response.service)

    for name, metadata in [("reflection_without_token", None), ("reflection_with_token", auth)]:
        try:
            out[name + ".services"] = list_services(metadata)
            out[name] = "OK"
        except grpc.RpcError as e:
            out[name] = e.code().name

    # The wrong CA: the handshake fails on the client, nothing reaches the
    # service.
    stranger = grpc.secure_channel(
        target, grpc.ssl_channel_credentials(root_certificates=wrong_ca_pem)
    )
    call("add_wrong_ca", pb2_grpc.ProductInfoStub(stranger).addProduct,
         pb2.Product(name="a", price=1), auth)

    # The right CA, but a name the certificate is not for.
    renamed = grpc.secure_channel(
        target,
        grpc.ssl_channel_credentials(root_certificates=ca_pem),
        options=[("grpc.ssl_target_name_override", "other.example.org")],
    )
    call("add_wrong_name", pb2_grpc.ProductInfoStub(renamed).addProduct,
         pb2.Product(name="a", price=1), auth)

    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
