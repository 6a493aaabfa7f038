"""A stock gRPC client pages through `framecast catalog serve`'s products.

Generates the Python client from the workspace's `ecommerce.proto` (the
lab's three methods and `listProducts`) with grpcio-tools, adds products,
then lists them page by page as any gRPC client would: `page_size` per
call, `next_page_token` fed back as `page_token` until it comes back empty.

Prints one JSON object: the ids of each page, the products added, and the
status code names of the requests that must be refused. Exits non-zero only
if the script itself breaks.

Usage: catalog_list_client.py PROTO_FILE HOST:PORT WORK_DIR
"""

import importlib
import json
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

    out = {}
    channel = grpc.insecure_channel(target)
    grpc.channel_ready_future(channel).result(timeout=10)
    stub = pb2_grpc.ProductInfoStub(channel)

    added = []
    for i in range(12):
        product = pb2.Product(id=f"py-{i:02}", name=f"Lamp {i}", price=10 + i / 4)
        added.append(stub.addProduct(product, timeout=10).value)
    out["added"] = added

    pages = []
    token = ""
    while True:
        page = stub.listProducts(pb2.ListProductsRequest(page_size=5, page_token=token), timeout=10)
        pages.append([p.id for p in page.products])
        if not page.next_page_token or len(pages) > 100:
            break
        token = page.next_page_token
    out["pages"] = pages

    whole = stub.listProducts(pb2.ListProductsRequest(), timeout=10)
    out["default_page"] = [p.id for p in whole.products]
    out["default_page.next"] = whole.next_page_token
    out["default_page.prices"] = [p.price for p in whole.products]

    for name, request in [
        ("negative_size", pb2.ListProductsRequest(page_size=-1)),
        ("bad_token", pb2.ListProductsRequest(page_token="a/b")),
    ]:
        try:
            stub.listProducts(request, timeout=10)
            out[name] = "OK"
        except grpc.RpcError as e:
            out[name] = e.code().name
            out[name + ".message"] = e.details()

    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
