"""A bridge server (and a raw ZeroMQ echo) in a child process, for benchmarks.

Engines are other programs, so benchmarks run the server in its own process,
as in production, and drive it from the benchmark process like an engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import zmq

from bridge.pipeline_config import PipelineCatalog, PipelineConfig
from bridge.server import BridgeServer
from bridge.server_config import ServerConfig


class RawEcho:
    """A ROUTER that sends every message straight back (zero-copy), on its own thread."""

    def __init__(self, ctx: zmq.Context) -> None:
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind("tcp://127.0.0.1:*")
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="raw-echo", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self._stop.is_set():
            if poller.poll(100):
                parts = self.sock.recv_multipart(copy=False)
                self.sock.send_multipart(parts, copy=False)
        self.sock.close(0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)


# a trivial stage on its own thread: what every real pipeline pays for its thread hand-off
THREADED_PIPELINE = "bench_threaded"
_THREADED_TOML = """
name = "bench_threaded"
[[stage]]
type = "cadence"
[stage.params]
mode = "frames"
hold_frames = 1
"""


def serve_for_bench() -> None:
    """Child-process entry: serve, print the endpoints as one JSON line, run until stdin closes."""
    ctx = zmq.Context()
    builtins = PipelineCatalog.with_builtins()
    catalog = PipelineCatalog({**builtins.pipelines, THREADED_PIPELINE: PipelineConfig.parse(_THREADED_TOML)})
    # the configuration a server runs with unless told otherwise (send_hwm 8 and the rest), on a free local port
    server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"]), catalog=catalog, context=ctx)
    server.start()
    echo = RawEcho(ctx)
    sys.stdout.write(json.dumps({"bridge": server.endpoint, "raw": echo.endpoint}) + "\n")
    sys.stdout.flush()
    sys.stdin.read()
    echo.close()
    server.stop()
    ctx.term()


class BenchServerProcess:
    """``with BenchServerProcess() as endpoints:`` -> {"bridge": ..., "raw": ...}."""

    def __enter__(self) -> dict[str, str]:
        self._child = subprocess.Popen(
            [sys.executable, "-c", "from bridge.bench.server_process import serve_for_bench; serve_for_bench()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        line = self._child.stdout.readline() if self._child.stdout else ""
        if not line:
            self._child.kill()
            raise RuntimeError("the benchmark's server process did not start (see its log above)")
        return json.loads(line)

    @property
    def pid(self) -> int:
        """The server process's pid (benchmarks read its CPU time from /proc)."""
        return self._child.pid

    def __exit__(self, *exc: object) -> None:
        if self._child.stdin:
            self._child.stdin.close()
        try:
            self._child.wait(15)
        except subprocess.TimeoutExpired:
            self._child.kill()
