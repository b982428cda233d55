#!/usr/bin/python3
"""A minimal CRI (runtime.v1) client for tests/clients/cri.bats and bench/cri.sh.

    cri.py SOCKET METHOD [REQUEST_JSON]   one call; the response as JSON on stdout
    cri.py SOCKET bench-pod-start N HANDLER... POD_JSON CTR_JSON
                                          pod start latency per handler (see below)

METHOD is a RuntimeService method (RunPodSandbox, ExecSync, ...) or ImageService's
ListImages. REQUEST_JSON is the request message in protobuf's JSON mapping (field
names as in runtime_v1.proto); bytes fields come back base64-encoded (jq @base64d).
An RPC error prints "CODE: details" on stderr and exits 2.

The stubs (runtime_v1_pb2*.py) are generated from runtime_v1.proto, next to
this file, by protoc with grpc_python_plugin into the directory $CRI_STUBS
(cri_env.bash does it in the test's temp dir); they are never committed.
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.environ.get("CRI_STUBS", "."))

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402

import runtime_v1_pb2 as pb  # noqa: E402
import runtime_v1_pb2_grpc as pb_grpc  # noqa: E402

IMAGE_METHODS = {"ListImages"}
TIMEOUT = float(os.environ.get("CRI_TIMEOUT", "60"))


def stubs(socket):
    channel = grpc.insecure_channel("unix://" + socket)
    return pb_grpc.RuntimeServiceStub(channel), pb_grpc.ImageServiceStub(channel)


def call(runtime, images, method, request_json):
    """Send one request given as JSON; return the response message."""
    stub = images if method in IMAGE_METHODS else runtime
    rpc = getattr(stub, method)
    request_type = pb.DESCRIPTOR.services_by_name[
        "ImageService" if method in IMAGE_METHODS else "RuntimeService"
    ].methods_by_name[method].input_type
    request = getattr(pb, request_type.name)()
    json_format.Parse(request_json or "{}", request)
    return rpc(request, timeout=TIMEOUT)


def as_json(message):
    return json_format.MessageToJson(
        message, preserving_proto_field_name=True, including_default_value_fields=True
    )


def pod_start(runtime, handler, pod_json, ctr_json, n):
    """RunPodSandbox + CreateContainer + StartContainer of one container, until
    ContainerStatus says RUNNING: the seconds it took. The pod is then stopped
    and removed (not timed)."""
    pod = pb.PodSandboxConfig()
    json_format.Parse(pod_json.replace("@N@", str(n)), pod)
    ctr = pb.ContainerConfig()
    json_format.Parse(ctr_json, ctr)
    t0 = time.monotonic()
    pod_id = runtime.RunPodSandbox(
        pb.RunPodSandboxRequest(config=pod, runtime_handler=handler), timeout=TIMEOUT
    ).pod_sandbox_id
    cid = runtime.CreateContainer(
        pb.CreateContainerRequest(pod_sandbox_id=pod_id, config=ctr, sandbox_config=pod),
        timeout=TIMEOUT,
    ).container_id
    runtime.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=TIMEOUT)
    while True:
        status = runtime.ContainerStatus(
            pb.ContainerStatusRequest(container_id=cid), timeout=TIMEOUT
        ).status
        if status.state == pb.CONTAINER_RUNNING:
            break
        if status.state == pb.CONTAINER_EXITED:
            raise RuntimeError("container exited: " + status.reason)
        time.sleep(0.001)
    elapsed = time.monotonic() - t0
    runtime.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=TIMEOUT)
    runtime.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=TIMEOUT)
    return elapsed


def bench_pod_start(runtime, n, handlers, pod_json, ctr_json):
    """Alternate the handlers every iteration (swapping which goes first) so
    each sees the same machine; print the median per handler and the ratios
    to the first handler as JSON."""
    times = {h: [] for h in handlers}
    for i in range(n):
        order = handlers if i % 2 == 0 else list(reversed(handlers))
        for h in order:
            times[h].append(pod_start(runtime, h, pod_json, ctr_json, f"{h}-{i}"))
    medians = {h: statistics.median(t) for h, t in times.items()}
    first = handlers[0]
    print(json.dumps({
        "n": n,
        "median_ms": {h: round(m * 1000, 1) for h, m in medians.items()},
        "min_ms": {h: round(min(t) * 1000, 1) for h, t in times.items()},
        "ratio_to_" + first: {h: round(m / medians[first], 3) for h, m in medians.items()},
    }))


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    runtime, images = stubs(argv[1])
    try:
        if argv[2] == "bench-pod-start":
            bench_pod_start(runtime, int(argv[3]), argv[4:-2], argv[-2], argv[-1])
        else:
            print(as_json(call(runtime, images, argv[2], argv[3] if len(argv) > 3 else "")))
    except grpc.RpcError as e:
        print(f"{e.code().name}: {e.details()}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
