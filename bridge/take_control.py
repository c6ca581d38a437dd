"""Starting and stopping takes on a running server, and feeding the recorder from the server's hooks.

A take starts and stops from the CLI (``serve --record``), a CONTROL message
to the pseudo-stage ``take`` (``{"record": true, "name": "scene-4"}``), OSC
(``/bridge/take/start [name]``, ``/bridge/take/stop``) or the engine plugins
(which send that CONTROL).  While a take records, every stream's inputs and
outputs, every accepted CONTROL and every relayed pose go to the
``TakeRecorder``, whose hooks only queue references (microseconds); writing
happens on the recorder's own threads, so the live stream never waits on disk
and a failing disk stops the recording, loudly, never the stream.

Compaction (re-encoding the raw segments, ``bridge.takes.compactor``) follows
``[server] take_compaction``: with ``idle`` (the default) the server reports
its frame flow through ``set_live`` and every take's compactor runs only
while no frame has arrived for ``LIVE_QUIET_S``; at shutdown they all run.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from bridge.takes.recorder import TakeRecorder
from bridge.takes.rerender import pipeline_as_dict

log = logging.getLogger(__name__)

TAKE_STAGE = "take"  # CONTROL stage name that starts/stops takes
TAKE_STATE_KEY = "bridge.take"  # session STATE key the server sets when a take starts or stops
LIVE_QUIET_S = 2.0  # no frame for this long: the live stream paused, compactors may run (policy "idle")


def stream_key(engine_id: str, stream_id: int, name: str) -> str:
    return f"{engine_id}/{stream_id}:{name}"


class TakeControl:
    """Owns the current ``TakeRecorder`` (at most one) of a server; thread-safe."""

    def __init__(self, takes_dir: Path | str, compaction: str = "idle") -> None:
        self.takes_dir = Path(takes_dir)
        self.compaction = compaction
        self._lock = threading.Lock()
        self.recorder: TakeRecorder | None = None  # read without the lock on hot paths (one attribute load)
        self._finishing: list[TakeRecorder] = []
        self._live = True

    def start(self, pipelines: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        """Start a take (``pipelines``: stream key -> PipelineConfig); returns a summary for acks and logs."""
        with self._lock:
            if self.recorder is not None and self.recorder.recording:
                raise ValueError(f"take {self.recorder.name!r} is already recording; stop it first")
            recorder = TakeRecorder(self.takes_dir, name, compaction=self.compaction)
            info = recorder.start({key: pipeline_as_dict(cfg) for key, cfg in pipelines.items()})
            self.recorder = recorder
            if self.compaction == "idle" and not self._live and recorder.compactor is not None:
                recorder.compactor.resume()
        log.info("take %s started in %s", info.name, info.path)
        return {"take": info.name, "path": str(info.path), "timecode": info.start_timecode}

    def stop(self, wait: bool = False) -> dict[str, Any]:
        """Stop recording at once; the writers finish the take in the background (``wait``: until done)."""
        with self._lock:
            recorder, self.recorder = self.recorder, None
        if recorder is None:
            raise ValueError("no take is recording")
        recorder.request_stop()  # returns at once: never hold the I/O thread while queued frames are encoded
        self._finishing = [r for r in self._finishing if not r.wait_compacted(0)] + [recorder]
        info = recorder.wait(None if wait else 0)
        if info is None:
            log.info("take %s stopping; writing what is queued", recorder.name)
            return {"take": recorder.name, "path": str(self.takes_dir / str(recorder.name)), "status": "stopping"}
        log.info("take %s stopped: %.1f s, %s", info.name, info.duration_s, info.status)
        return {"take": info.name, "path": str(info.path), "status": info.status, "duration_s": info.duration_s,
                "failure": info.failure}

    # -- hooks: called from the server's threads; each returns at once ------------------
    def on_input(self, key: str, frame: Any, color_format: str) -> None:
        recorder = self.recorder
        if recorder is not None:
            recorder.on_input(key, frame.index, frame.t_capture_ns, frame.timecode, frame.input_color,
                              frame.depth, frame.mask, color_format=color_format)

    def on_output(self, key: str, index: int, output: Any, held: bool, color_format: str) -> None:
        recorder = self.recorder
        if recorder is not None:
            recorder.on_output(key, index, output, held, color_format=color_format)

    def on_control(self, key: str, stage: str, params: dict[str, Any], glide_ms: float | None,
                   next_index: int) -> None:
        recorder = self.recorder
        if recorder is not None:
            recorder.on_control(key, stage, params, glide_ms, next_index)

    def on_audio(self, key: str, chunk: Any) -> None:
        recorder = self.recorder
        if recorder is not None:
            recorder.on_audio(key, chunk.t_capture_ns, chunk.sample_rate_hz, chunk.channels, chunk.pcm)

    def on_mocap(self, performer: str, fields: dict[str, Any], payload: Any) -> None:
        recorder = self.recorder
        if recorder is not None:
            recorder.on_mocap(performer, fields, bytes(memoryview(payload)))

    def set_live(self, live: bool) -> None:
        """The server's frame flow (called from its housekeeping): pause or resume idle-policy compactors."""
        if self.compaction != "idle" or live == self._live:
            return
        self._live = live
        with self._lock:
            recorders = [*self._finishing, *([self.recorder] if self.recorder is not None else [])]
        for recorder in recorders:
            compactor = recorder.compactor
            if compactor is not None:
                compactor.pause() if live else compactor.resume()

    def close(self) -> None:
        """At shutdown: finish the take in progress and wait for every take still being written."""
        if self.recorder is not None:
            try:
                self.stop(wait=True)
            except Exception:
                log.exception("stopping the take at shutdown failed")
        self.set_live(False)  # nothing is live any more: every compactor may run
        for recorder in self._finishing:
            recorder.wait(120)
            compactor = recorder.compactor
            if compactor is not None and compactor.pending:
                log.info("take %s: re-encoding %d raw segments before exiting", recorder.name, compactor.pending)
            if not recorder.wait_compacted(120):  # what is left stays raw: complete, readable, compactable later
                log.warning("take %s: segments left raw at shutdown; `machinima-bridge takes compact %s` finishes "
                            "them", recorder.name, recorder.name)
