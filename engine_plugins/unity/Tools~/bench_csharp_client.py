"""Benchmark of the Unity package's C# client beside the Python reference client, in one run.

Round trip FRAME -> server (own process) -> passthrough pipeline -> RESULT, one frame in flight,
RGBA8 at each size, measured for

* the Python client (``bridge.client.BridgeClient``), before and after the C# runs (pooled),
* the C# session polled by the calling thread ("direct", like the Python client),
* the C# session on its worker thread ("worker", the path Unity's BridgeConnection uses),

plus the C# codec's per-call costs. The C# side runs under Mono with libzmq (``Tests/Standalone~``);
inside Unity it runs on NetMQ instead, so the transport figures are indicative, the codec's exact.

    .venv/bin/python "engine_plugins/unity/Tools~/bench_csharp_client.py" --json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from bridge.bench.server_process import BenchServerProcess  # noqa: E402
from bridge.client import BridgeClient  # noqa: E402
from bridge.protocol.messages import Result, StreamDeclaration  # noqa: E402


def _toolchain_module() -> Any:
    spec = importlib.util.spec_from_file_location("unity_csharp_toolchain", Path(__file__).with_name("csharp_toolchain.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def python_rtt_ms(endpoint: str, width: int, height: int, iterations: int, warmup: int = 10) -> list[float]:
    client = BridgeClient(endpoint, engine="bench-python")
    client.connect([StreamDeclaration(0, "bench", width, height, pipeline="passthrough")])
    color = np.random.default_rng(0).integers(0, 255, (height, width, 4), dtype=np.uint8)
    samples: list[float] = []
    try:
        for i in range(warmup + iterations):
            t0 = time.perf_counter_ns()
            client.send_frame(0, i, color, block=True)
            while True:
                msg = client.recv(timeout_s=10.0)
                if msg is None:
                    raise RuntimeError(f"no RESULT for frame {i} at {width}x{height} within 10 s")
                if isinstance(msg, Result) and msg.index == i:
                    break
            if i >= warmup:
                samples.append((time.perf_counter_ns() - t0) / 1e6)
    finally:
        client.close()
    return samples


def run(sizes: list[tuple[int, int]], iterations: int) -> dict[str, Any]:
    csharp = _toolchain_module()
    tc = csharp.find_toolchain()
    if not tc.can_run_live:
        raise SystemExit("cannot run the C# benchmark: missing " + ", ".join(tc.missing))
    with tempfile.TemporaryDirectory() as tmp:
        outputs = csharp.build(Path(tmp), tc, with_tests=False)
        codec = csharp.run_probe(tc, outputs, "codec", timeout_s=300)
        if codec.returncode != 0:
            raise RuntimeError(codec.stderr)
        results = []
        with BenchServerProcess() as endpoints:
            endpoint = endpoints["bridge"]
            for width, height in sizes:
                py = python_rtt_ms(endpoint, width, height, iterations // 2)
                proc = csharp.run_probe(tc, outputs, "bench", endpoint, f"{width}x{height}", str(iterations), timeout_s=600)
                if proc.returncode != 0:
                    raise RuntimeError(proc.stdout + proc.stderr)
                py += python_rtt_ms(endpoint, width, height, iterations // 2)
                cs = {e["mode"]: e for e in map(json.loads, proc.stdout.splitlines())}
                py_p50, py_p99 = float(np.percentile(py, 50)), float(np.percentile(py, 99))
                row = {"width": width, "height": height, "iterations": iterations,
                       "python_rtt_ms_p50": round(py_p50, 3), "python_rtt_ms_p99": round(py_p99, 3)}
                for mode in ("direct", "worker"):
                    row[f"csharp_{mode}_rtt_ms_p50"] = round(cs[mode]["rtt_ms_p50"], 3)
                    row[f"csharp_{mode}_rtt_ms_p99"] = round(cs[mode]["rtt_ms_p99"], 3)
                    row[f"csharp_{mode}_over_python_p50"] = round(cs[mode]["rtt_ms_p50"] / py_p50, 3)
                results.append(row)
    return {"results": results, "codec": json.loads(codec.stdout.splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", default=["512x512", "1920x1080"])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes]
    report = run(sizes, args.iterations)  # type: ignore[arg-type]
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for row in report["results"]:
        print(f"{row['width']}x{row['height']}: python p50 {row['python_rtt_ms_p50']} ms p99 {row['python_rtt_ms_p99']} ms | "
              f"C# direct p50 {row['csharp_direct_rtt_ms_p50']} ms ({row['csharp_direct_over_python_p50']}x) | "
              f"C# worker p50 {row['csharp_worker_rtt_ms_p50']} ms ({row['csharp_worker_over_python_p50']}x)")
    print("codec:", json.dumps(report["codec"]))


if __name__ == "__main__":
    main()
