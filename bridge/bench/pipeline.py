"""``bench pipeline``: sustained fps of the default stylize pipeline over the server vs the model alone.

Model only: the default pipeline's stylize stage, set up exactly as the
server sets it up, called back to back in this process on the same frames.
Pipeline: a bridge server in its own process runs the default pipeline; this
process acts as the engine, keeping the pipeline saturated (two frames in
flight: a new frame goes out whenever a result comes back, so the mailbox is
never empty and nothing is wasted on frames that would be dropped) and
counts results per second once warmed up.  Efficiency = pipeline / model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from bridge.bench.server_process import BenchServerProcess
from bridge.client import BridgeClient
from bridge.pipeline_config import load_builtin
from bridge.protocol.messages import Result, StreamDeclaration
from bridge.simulated_scene import SceneSettings, SimulatedScene
from bridge.stage import StageFrame, StreamSpec


@dataclass
class PipelineBenchResult:
    model_only_fps: float
    pipeline_fps: float
    efficiency: float
    width: int
    height: int
    pipeline: str
    latency_ms_p50: float
    frames: int


def _scene_frames(width: int, height: int, count: int) -> list[np.ndarray]:
    scene = SimulatedScene(SceneSettings(width, height, seed=0))
    return [scene.render(i / 30.0).color_rgba for i in range(count)]


def measure_model_only(frames: list[np.ndarray], width: int, height: int, duration_s: float,
                       pipeline: str = "default") -> float:
    config = load_builtin(pipeline)
    stages = config.build_stages()
    spec = StreamSpec("bench", 0, "bench", width, height, "RGBA8", None, False, 30.0)
    for stage in stages:
        stage.setup(spec)
    stylize = next(s for s in stages if s.TYPE == "stylize")
    try:
        def one(i: int) -> None:
            frame = StageFrame(index=i, t_capture_ns=0, t_received_ns=0, input_color=frames[i % len(frames)],
                               input_format="RGBA8")
            stylize.process(frame)

        for i in range(3):  # warm-up: first runs allocate and tune
            one(i)
        count = 0
        start = time.perf_counter()
        while time.perf_counter() - start < duration_s:
            one(count)
            count += 1
        return count / (time.perf_counter() - start)
    finally:
        for stage in stages:
            stage.close()


def measure_pipeline(endpoint: str, frames: list[np.ndarray], width: int, height: int, duration_s: float,
                     warmup_s: float = 2.0, pipeline: str | None = None) -> tuple[float, float, int]:
    client = BridgeClient(endpoint, engine="bench-pipeline")
    try:
        client.connect([StreamDeclaration(0, "bench", width, height, pipeline=pipeline)], timeout_s=60)
        index = 0
        for _ in range(2):
            client.send_frame(0, index, frames[index % len(frames)], block=True)
            index += 1
        start = time.perf_counter()
        counted_from = start + warmup_s
        stop_at = counted_from + duration_s
        results = 0
        latencies: list[float] = []
        while True:
            msg = client.recv(timeout_s=10.0)
            if msg is None:
                raise RuntimeError("the server stopped answering during the pipeline benchmark")
            if not isinstance(msg, Result):
                continue
            now = time.perf_counter()
            if now >= stop_at:
                break
            if now >= counted_from:
                results += 1
                latencies.append((time.monotonic_ns() - msg.t_capture_ns) / 1e6)
            client.send_frame(0, index, frames[index % len(frames)], block=True)
            index += 1
        elapsed = min(time.perf_counter(), stop_at) - counted_from
        return results / elapsed, float(np.median(latencies)) if latencies else 0.0, results
    finally:
        client.close()


def run_pipeline_bench(width: int = 640, height: int = 360, duration_s: float = 10.0) -> PipelineBenchResult:
    frames = _scene_frames(width, height, 30)
    model_fps = measure_model_only(frames, width, height, duration_s)
    with BenchServerProcess() as endpoints:
        pipeline_fps, latency_ms, count = measure_pipeline(endpoints["bridge"], frames, width, height, duration_s)
    return PipelineBenchResult(
        model_only_fps=round(model_fps, 2), pipeline_fps=round(pipeline_fps, 2),
        efficiency=round(pipeline_fps / model_fps, 3), width=width, height=height, pipeline="default",
        latency_ms_p50=round(latency_ms, 2), frames=count,
    )
