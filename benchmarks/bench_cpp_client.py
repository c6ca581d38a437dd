"""Round-trip latency of the Unreal plugin's C++ client beside the Python client, same server, same run.

Both clients talk to one bridge server process (bridge/bench/server_process.py) with the passthrough
pipeline, one frame in flight, timing send -> RESULT exactly as bridge/bench/transport.py does (a raw
ZeroMQ echo round trip of the same bytes interleaved before each frame).  The C++ client is
engine_plugins/unreal/Tests/live_session_client.cpp built with g++ -O2 from the plugin's own
Protocol/ and Transport/ code.  Rounds alternate C++ and Python so machine-load drift hits both;
each figure is the median over rounds.  Target: C++ p50 within 10% of Python's (ratio <= 1.10).

Run: `.venv/bin/python benchmarks/bench_cpp_client.py [--sizes 512x512 1920x1080] [--rounds 3]
[--seconds 2] [--json]`.  Needs g++, libzmq3-dev and cppzmq-dev.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge.bench.server_process import BenchServerProcess  # noqa: E402
from bridge.bench.transport import measure_round_trips  # noqa: E402

BUILD_SCRIPT = ROOT / "engine_plugins" / "unreal" / "Tests" / "cpp_build.py"
TARGET_RATIO = 1.10


def _load_cpp_build():
    spec = importlib.util.spec_from_file_location("unreal_cpp_build", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def _cpp_round(client: Path, endpoints: dict[str, str], sizes: list[tuple[int, int]], seconds: float,
               warmup: int) -> dict[tuple[int, int], dict]:
    cmd = [str(client), "latency", "--endpoint", endpoints["bridge"], "--raw-endpoint", endpoints["raw"],
           "--sizes", ",".join(f"{w}x{h}" for w, h in sizes), "--budget-s", str(seconds), "--warmup", str(warmup)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"the C++ client failed ({proc.returncode}): {proc.stderr.strip()}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return {(r["width"], r["height"]): r for r in report["results"]}


def _python_round(endpoints: dict[str, str], sizes: list[tuple[int, int]], seconds: float,
                  warmup: int) -> dict[tuple[int, int], dict]:
    results = measure_round_trips(endpoints["bridge"], endpoints["raw"], sizes, seconds, warmup)
    return {(r.width, r.height): {"rtt_ms_p50": r.bridge_rtt_ms_p50, "rtt_ms_p99": r.bridge_rtt_ms_p99,
                                  "raw_rtt_ms_p50": r.raw_rtt_ms_p50, "raw_rtt_ms_p99": r.raw_rtt_ms_p99,
                                  "iterations": r.iterations} for r in results}


def run(sizes: list[tuple[int, int]], rounds: int, seconds: float, warmup: int, build_dir: Path) -> dict:
    cpp_build = _load_cpp_build()
    reason = cpp_build.missing_toolchain(build_dir, need_zmq=True)
    if reason:
        raise RuntimeError(f"cannot build the C++ client: {reason}")
    client = cpp_build.build(build_dir, vectors_test=False, optimize="-O2").live_client
    cpp_rounds: list[dict] = []
    py_rounds: list[dict] = []
    with BenchServerProcess() as endpoints:
        for index in range(rounds):
            if index % 2 == 0:  # alternate who goes first
                cpp_rounds.append(_cpp_round(client, endpoints, sizes, seconds, warmup))
                py_rounds.append(_python_round(endpoints, sizes, seconds, warmup))
            else:
                py_rounds.append(_python_round(endpoints, sizes, seconds, warmup))
                cpp_rounds.append(_cpp_round(client, endpoints, sizes, seconds, warmup))
    results = []
    for size in sizes:
        def median(runs: list[dict], key: str) -> float:
            return round(statistics.median(r[size][key] for r in runs), 4)

        cpp_p50, py_p50 = median(cpp_rounds, "rtt_ms_p50"), median(py_rounds, "rtt_ms_p50")
        cpp_p99, py_p99 = median(cpp_rounds, "rtt_ms_p99"), median(py_rounds, "rtt_ms_p99")
        results.append({
            "width": size[0], "height": size[1],
            "cpp_rtt_ms_p50": cpp_p50, "python_rtt_ms_p50": py_p50, "ratio_p50": round(cpp_p50 / py_p50, 3),
            "cpp_rtt_ms_p99": cpp_p99, "python_rtt_ms_p99": py_p99, "ratio_p99": round(cpp_p99 / py_p99, 3),
            "cpp_raw_rtt_ms_p50": median(cpp_rounds, "raw_rtt_ms_p50"),
            "python_raw_rtt_ms_p50": median(py_rounds, "raw_rtt_ms_p50"),
            "within_target": cpp_p50 <= TARGET_RATIO * py_p50,
            "iterations_per_round": cpp_rounds[0][size]["iterations"], "rounds": rounds,
        })
    return {"pipeline": "passthrough", "target_ratio_p50": TARGET_RATIO, "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["512x512", "1920x1080"], help="WIDTHxHEIGHT RGBA frames")
    parser.add_argument("--rounds", type=int, default=3, help="alternating C++/Python rounds (median reported)")
    parser.add_argument("--seconds", type=float, default=2.0, help="time budget per size per round and client")
    parser.add_argument("--warmup", type=int, default=20, help="round trips discarded before measuring")
    parser.add_argument("--build-dir", type=Path, help="where to build the C++ client (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print only the JSON report")
    args = parser.parse_args(argv)
    sizes = [_parse_size(s) for s in args.sizes]
    with tempfile.TemporaryDirectory(prefix="bench_cpp_client_") as tmp:
        report = run(sizes, args.rounds, args.seconds, args.warmup, args.build_dir or Path(tmp))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("C++ client (Unreal plugin code) vs Python client, passthrough round trip, one frame in flight")
    print(f"{'size':>11} {'C++ p50':>9} {'Py p50':>9} {'ratio':>6} {'C++ p99':>9} {'Py p99':>9} {'target':>7}")
    for r in report["results"]:
        print(f"{r['width']:>5}x{r['height']:<5} {r['cpp_rtt_ms_p50']:>7.3f}ms {r['python_rtt_ms_p50']:>7.3f}ms "
              f"{r['ratio_p50']:>6.3f} {r['cpp_rtt_ms_p99']:>7.3f}ms {r['python_rtt_ms_p99']:>7.3f}ms "
              f"{'ok' if r['within_target'] else 'MISSED':>7}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
