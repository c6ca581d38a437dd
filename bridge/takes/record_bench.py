"""``bench record``: live fps of the default stylize pipeline without and with a take being recorded.

One process, one ``StageChain`` with the default pipeline's stages, fed with
SimulatedScene frames (RGBA colour as ``bench pipeline`` declares the stream;
``planes=True`` adds the float32 depth and the mask the engine simulator
sends) as fast as it takes them: each output, delivered on the stage thread,
immediately submits the next frame.  Phases alternate
(without, with, without, with, ...) so load from elsewhere on the machine
hits both alike; in a "with" phase a ``TakeRecorder`` receives every input
(``on_input``, on the frame path) and every output (``on_output``).  Between
phases feeding pauses while the take is stopped, so finishing a take never
runs inside a measured phase.  ``ratio`` = with / without (target >= 0.95).

With deferred encoding (the default, ``EncodingSettings.deferred``) the
writers store raw pictures and a compactor process re-encodes them into the
final codecs.  Each round then has a third phase, so both compaction policies
are measured side by side: "with" records under the server's default policy
``idle`` (the compactor waits while frames flow, and runs between phases,
as a server runs it when the engines pause: ``compaction_wait_s``); "with
live compaction" records under ``always``, the compactor re-encoding at
``SCHED_IDLE`` priority beside the pipeline (``ratio_with_live_compaction``;
what it has not finished at the end of the phase, ``raw_segments_at_stop``,
it finishes between phases).  The compactor's CPU per frame is reported
beside the writers' so the whole cost of recording is visible.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bridge.pipeline_config import load_builtin
from bridge.simulated_scene import SceneSettings, SimulatedScene
from bridge.stage import StageFrame, StreamSpec
from bridge.stage_chain import StageChain
from bridge.takes.recorder import MIB, TakeRecorder
from bridge.takes.rerender import pipeline_as_dict
from bridge.takes.segments import EncodingSettings

_KEY = "bench"


@dataclass
class RecordBenchResult:
    live_fps_without_recording: float
    live_fps_with_recording: float
    ratio: float
    pipeline: str
    width: int
    height: int
    planes: bool
    rounds: int
    seconds_per_phase: float
    frames_without: int
    frames_with: int
    cpu_ms_per_frame_without: float
    cpu_ms_per_frame_with: float
    writer_cpu_ms_per_frame: float
    hook_us_p50: float
    hook_us_p99: float
    recorded_input_frames: int
    recorded_output_frames: int
    take_mib_per_s: float
    peak_queue_mib: float
    recording_failed: str | None
    encoding: str
    compactor_cpu_ms_per_frame: float
    raw_segments_at_stop: int
    compaction_wait_s: float
    compaction_failures: int
    live_fps_with_live_compaction: float | None
    ratio_with_live_compaction: float | None


class _Driver:
    """Keeps the chain busy and counts outputs; the recorder (if any) sees every input and output."""

    def __init__(self, frames: list[Any], spec: StreamSpec, pipeline: str, planes: bool) -> None:
        self.frames = frames
        self.planes = planes
        self.stages = load_builtin(pipeline).build_stages()
        for stage in self.stages:
            stage.setup(spec)
        self.chain = StageChain(self.stages, spec, self._on_output, self._on_error, thread_prefix="bench")
        self.recorder: TakeRecorder | None = None
        self.feeding = False
        self.outputs = 0
        self.next_index = 0
        self.hook_ns: list[int] = []
        self.errors: list[str] = []
        self.idle = threading.Event()

    def _submit(self) -> None:
        index = self.next_index
        self.next_index += 1
        scene = self.frames[index % len(self.frames)]
        depth, mask = (scene.depth_m, scene.actor_mask) if self.planes else (None, None)
        recorder = self.recorder
        if recorder is not None:
            t0 = time.perf_counter_ns()
            recorder.on_input(_KEY, index, time.monotonic_ns(), None, scene.color_rgba, depth, mask,
                              color_format="RGBA8")
            self.hook_ns.append(time.perf_counter_ns() - t0)
        self.chain.submit(StageFrame(index=index, t_capture_ns=time.monotonic_ns(), t_received_ns=time.monotonic_ns(),
                                     input_color=scene.color_rgba, input_format="RGBA8", depth=depth, mask=mask))

    def _on_output(self, frame: StageFrame, output: np.ndarray, dropped: int) -> None:
        recorder = self.recorder
        if recorder is not None:
            t0 = time.perf_counter_ns()
            recorder.on_output(_KEY, frame.index, output, frame.held, color_format="RGBA8")
            self.hook_ns.append(time.perf_counter_ns() - t0)
        self.outputs += 1
        if self.feeding:
            self._submit()
        else:
            self.idle.set()

    def _on_error(self, stage: str, exc: BaseException, frame: StageFrame) -> None:
        self.errors.append(f"{stage}: {exc}")
        if self.feeding:
            self._submit()
        else:
            self.idle.set()

    def run_phase(self, seconds: float) -> tuple[int, float, float]:
        """(outputs, wall seconds, process CPU seconds) of one phase of feeding."""
        self.idle.clear()
        self.feeding = True
        start_outputs = self.outputs
        wall0, cpu0 = time.perf_counter(), time.process_time()
        self._submit()
        time.sleep(seconds)
        count = self.outputs - start_outputs
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        self.feeding = False
        self.idle.wait(30.0)  # the frame in flight finishes before the next phase
        return count, wall, cpu

    def close(self) -> None:
        self.chain.close()


def run_record_bench(width: int = 640, height: int = 360, seconds: float = 5.0, rounds: int = 3,
                     warmup_s: float = 2.0, pipeline: str = "default", planes: bool = False,
                     writer_nice: int = 5, encoding: EncodingSettings | None = None,
                     takes_dir: Path | None = None) -> RecordBenchResult:
    scene = SimulatedScene(SceneSettings(width, height, seed=0))
    frames = [scene.render(i / 30.0) for i in range(30)]
    spec = StreamSpec("bench", 0, _KEY, width, height, "RGBA8", "F32" if planes else None, planes, 30.0)
    driver = _Driver(frames, spec, pipeline, planes)
    own_dir = takes_dir is None
    root = Path(tempfile.mkdtemp(prefix="bench-record-")) if own_dir else Path(takes_dir)
    pipeline_dict = pipeline_as_dict(load_builtin(pipeline))
    encoding = encoding or EncodingSettings()
    phases: list[tuple[str, str | None]] = [("without", None), ("with", "idle")]
    if encoding.deferred:
        phases.append(("with_live_compaction", "always"))
    totals_by_phase = {name: [0, 0.0, 0.0] for name, _ in phases}
    without, with_rec = totals_by_phase["without"], totals_by_phase["with"]
    failure: str | None = None
    recorded_in = recorded_out = 0
    take_bytes = 0
    peak_queue = 0
    writer_cpu_s = 0.0
    compactor_cpu_s = 0.0
    raw_at_stop = 0
    compaction_wait_s = 0.0
    compaction_failures = 0
    try:
        driver.chain.start()
        driver.run_phase(warmup_s)
        for round_number in range(rounds):
            for phase, compaction in phases:
                recorder = None
                if compaction is not None:
                    recorder = TakeRecorder(root, f"bench-{round_number}-{phase}", fps_hint=30.0,
                                            writer_nice=writer_nice, encoding=encoding, compaction=compaction)
                    recorder.start({_KEY: pipeline_dict})
                    driver.recorder = recorder
                count, wall, cpu = driver.run_phase(seconds)
                driver.recorder = None
                totals = totals_by_phase[phase]
                totals[0] += count
                totals[1] += wall
                totals[2] += cpu
                if recorder is not None:
                    info = recorder.stop()
                    failure = failure or recorder.failed
                    recorded_in += info.input_frames
                    recorded_out += info.output_frames
                    peak_queue = max(peak_queue, recorder.peak_queued_bytes)
                    writer_cpu_s += recorder.writer_cpu_s
                    compactor = recorder.compactor
                    if compactor is not None:
                        if compaction == "always":
                            raw_at_stop += compactor.pending
                        wait0 = time.perf_counter()
                        compactor.resume()  # the live stream paused between phases: as a server would
                        recorder.wait_compacted(300)
                        compaction_wait_s += time.perf_counter() - wait0
                        compactor_cpu_s += compactor.cpu_s
                        compaction_failures += len(compactor.failed)
                        take_bytes += compactor.final_bytes  # what stays once the raw files are gone
                    else:
                        take_bytes += sum(f.stat().st_size for f in info.path.rglob("*") if f.is_file())
    finally:
        driver.close()
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)
    fps_without = without[0] / without[1] if without[1] else 0.0
    fps_with = with_rec[0] / with_rec[1] if with_rec[1] else 0.0
    hooks_us = sorted(ns / 1000 for ns in driver.hook_ns) or [0.0]
    return RecordBenchResult(
        live_fps_without_recording=round(fps_without, 2),
        live_fps_with_recording=round(fps_with, 2),
        ratio=round(fps_with / fps_without, 3) if fps_without else 0.0,
        pipeline=pipeline, width=width, height=height, planes=planes, rounds=rounds, seconds_per_phase=seconds,
        frames_without=int(without[0]), frames_with=int(with_rec[0]),
        cpu_ms_per_frame_without=round(1000 * without[2] / max(1, without[0]), 2),
        cpu_ms_per_frame_with=round(1000 * with_rec[2] / max(1, with_rec[0]), 2),
        writer_cpu_ms_per_frame=round(1000 * writer_cpu_s / max(1, recorded_in), 2),
        hook_us_p50=round(statistics.median(hooks_us), 1),
        hook_us_p99=round(hooks_us[min(len(hooks_us) - 1, int(0.99 * len(hooks_us)))], 1),
        recorded_input_frames=recorded_in, recorded_output_frames=recorded_out,
        take_mib_per_s=round(take_bytes / MIB / max(sum(t[1] for n, t in totals_by_phase.items() if n != 'without'), 1e-9), 2),
        peak_queue_mib=round(peak_queue / MIB, 2),
        recording_failed=failure,
        encoding="deferred" if encoding.deferred else "live",
        compactor_cpu_ms_per_frame=round(1000 * compactor_cpu_s / max(1, recorded_in), 2),
        raw_segments_at_stop=raw_at_stop,
        compaction_wait_s=round(compaction_wait_s, 2),
        compaction_failures=compaction_failures,
        live_fps_with_live_compaction=_fps(totals_by_phase.get("with_live_compaction")),
        ratio_with_live_compaction=(round(_fps(totals_by_phase["with_live_compaction"]) / fps_without, 3)
                                    if "with_live_compaction" in totals_by_phase and fps_without else None),
    )


def _fps(totals: list[Any] | None) -> float | None:
    if totals is None or not totals[1]:
        return None
    return round(totals[0] / totals[1], 2)
