"""A synthetic game engine: renders the built-in scene and streams it to a bridge server.

Used by ``machinima-bridge simulate``, the demo and the benchmarks.  It behaves
as an engine should: it renders on its own clock and never waits for the
server (a frame the send queue cannot take is skipped), it reads results as
they come, measures the round trip from capture to result, and heartbeats
when idle.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from bridge.client import BridgeClient
from bridge.protocol.audio_messages import AudioFormat
from bridge.protocol.messages import Error, Result, StreamDeclaration
from bridge.simulated_scene import SceneFrame, SceneSettings, SimulatedScene
from bridge.simulated_sound import SimulatedSoundtrack, SoundSettings

log = logging.getLogger(__name__)


@dataclass
class SimulatorSettings:
    endpoint: str = "tcp://127.0.0.1:5555"
    width: int = 640
    height: int = 360
    fps: float = 30.0
    duration_s: float = 10.0
    pipeline: str | None = None
    stream_name: str = "main"
    send_depth: bool = True
    send_mask: bool = True
    send_audio: bool = True  # the soundtrack (a hum, a clap every second) as AUDIO beside the frames
    audio_sample_rate_hz: int = 48_000
    seed: int = 0


@dataclass
class SimulatorProgress:
    elapsed_s: float
    frames_sent: int
    frames_skipped: int
    results: int
    fps_in: float
    fps_out: float
    latency_ms_p50: float
    latency_ms_p95: float
    dropped: int


@dataclass
class SimulatorReport(SimulatorProgress):
    errors: list[str] = field(default_factory=list)


ResultCallback = Callable[[SceneFrame, Result], None]
ProgressCallback = Callable[[SimulatorProgress], None]


class EngineSimulator:
    def __init__(self, settings: SimulatorSettings, on_result: ResultCallback | None = None,
                 on_progress: ProgressCallback | None = None, progress_interval_s: float = 0.5) -> None:
        self.settings = settings
        self._on_result = on_result
        self._on_progress = on_progress
        self._progress_interval_s = progress_interval_s
        self.scene = SimulatedScene(SceneSettings(settings.width, settings.height, settings.seed))
        self.sound = SimulatedSoundtrack(SoundSettings(settings.audio_sample_rate_hz)) if settings.send_audio else None
        self.audio_chunks_sent = 0
        self.audio_chunks_skipped = 0

    def _declaration(self) -> StreamDeclaration:
        s = self.settings
        return StreamDeclaration(
            id=0, name=s.stream_name, width=s.width, height=s.height, color_format="RGBA8",
            depth_format="F32" if s.send_depth else None, mask=s.send_mask, fps=s.fps, pipeline=s.pipeline,
            audio=None if self.sound is None else AudioFormat(self.sound.settings.sample_rate_hz,
                                                              self.sound.settings.channels),
        )

    def run(self) -> SimulatorReport:
        s = self.settings
        client = BridgeClient(s.endpoint, engine="machinima-bridge simulator")
        try:
            client.connect([self._declaration()],
                           capabilities=["depth", "mask"] + (["audio"] if self.sound is not None else []))
            return self._loop(client)
        finally:
            client.close()

    def _loop(self, client: BridgeClient) -> SimulatorReport:
        s = self.settings
        period_s = 1.0 / s.fps
        in_flight: OrderedDict[int, SceneFrame] = OrderedDict()  # sent, not yet answered (bounded)
        latencies_ms: list[float] = []
        out_times: list[float] = []
        sent_times: list[float] = []
        errors: list[str] = []
        sent = skipped = dropped = 0
        start = time.monotonic()
        next_frame = start
        next_progress = start + self._progress_interval_s
        index = 0
        while True:
            now = time.monotonic()
            if now - start >= s.duration_s:
                break
            if now >= next_frame:
                scene_frame = self.scene.render(index * period_s)
                t_capture_ns = time.monotonic_ns()
                ok = client.send_frame(
                    0, index, scene_frame.color_rgba,
                    depth=scene_frame.depth_m if s.send_depth else None,
                    mask=scene_frame.actor_mask if s.send_mask else None,
                    camera=scene_frame.camera, timecode=_timecode(index, s.fps), t_capture_ns=t_capture_ns,
                )
                self._send_sound(client, index, period_s, t_capture_ns)
                if ok:
                    sent += 1
                    sent_times.append(now)
                    in_flight[index] = scene_frame
                    while len(in_flight) > 64:
                        in_flight.popitem(last=False)
                else:
                    skipped += 1
                index += 1
                next_frame += period_s
                if next_frame < now - period_s:  # we fell behind (slow render): do not burst to catch up
                    next_frame = now + period_s
            client.heartbeat_if_idle()
            msg = client.recv(timeout_s=max(0.0, min(next_frame, next_progress) - time.monotonic()))
            while msg is not None:
                if isinstance(msg, Result):
                    t_now_ns = time.monotonic_ns()
                    latencies_ms.append((t_now_ns - msg.t_capture_ns) / 1e6)
                    out_times.append(time.monotonic())
                    dropped += msg.dropped
                    source = in_flight.get(msg.index)
                    for old in [k for k in in_flight if k <= msg.index]:
                        del in_flight[old]
                    if self._on_result is not None and source is not None:
                        self._on_result(source, msg)
                elif isinstance(msg, Error):
                    errors.append(f"{msg.name}: {msg.message}")
                    log.warning("server error %s: %s", msg.name, msg.message)
                msg = client.recv(timeout_s=0)
            if self._on_progress is not None and time.monotonic() >= next_progress:
                next_progress += self._progress_interval_s
                self._on_progress(self._progress(start, sent, skipped, latencies_ms, sent_times, out_times, dropped))
        report = self._progress(start, sent, skipped, latencies_ms, sent_times, out_times, dropped)
        return SimulatorReport(**vars(report), errors=errors)

    def _send_sound(self, client: BridgeClient, index: int, period_s: float, t_capture_ns: int) -> None:
        """The soundtrack from this frame's scene time to the next frame's, stamped with this frame's capture time
        (sent even when the frame was skipped: sound has no "latest wins")."""
        if self.sound is None:
            return
        start, stop = self.sound.sample_index(index * period_s), self.sound.sample_index((index + 1) * period_s)
        if stop <= start:
            return
        if client.send_audio(0, index, self.sound.samples(start, stop), self.sound.settings.sample_rate_hz,
                             t_capture_ns=t_capture_ns, block=False):
            self.audio_chunks_sent += 1
        else:
            self.audio_chunks_skipped += 1

    @staticmethod
    def _progress(start: float, sent: int, skipped: int, latencies_ms: list[float], sent_times: list[float],
                  out_times: list[float], dropped: int) -> SimulatorProgress:
        now = time.monotonic()
        recent = latencies_ms[-120:]
        p50, p95 = (float(np.percentile(recent, 50)), float(np.percentile(recent, 95))) if recent else (0.0, 0.0)
        return SimulatorProgress(
            elapsed_s=now - start, frames_sent=sent, frames_skipped=skipped, results=len(latencies_ms),
            fps_in=_recent_rate(sent_times, now), fps_out=_recent_rate(out_times, now),
            latency_ms_p50=p50, latency_ms_p95=p95, dropped=dropped,
        )


def _recent_rate(times: list[float], now: float, window_s: float = 2.0) -> float:
    recent = [t for t in times[-400:] if now - t <= window_s]
    if len(recent) < 2:
        return 0.0
    return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9)


def _timecode(index: int, fps: float) -> str:
    """SMPTE non-drop timecode HH:MM:SS:FF at the nominal rate."""
    rate = max(1, round(fps))
    frames = index % rate
    seconds = index // rate
    return f"{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}:{frames:02d}"


def format_progress(p: SimulatorProgress) -> str:
    return (f"{p.elapsed_s:5.1f}s  in {p.fps_in:5.1f} fps  out {p.fps_out:5.1f} fps  "
            f"latency p50 {p.latency_ms_p50:6.1f} ms  p95 {p.latency_ms_p95:6.1f} ms  "
            f"dropped {p.dropped}  skipped {p.frames_skipped}")
