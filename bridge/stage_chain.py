"""A stream's running pipeline: one worker thread per stage, overlapped.

Frames enter through a ``LatestFrameMailbox`` (the only place frames are
dropped: a newer frame replaces one still waiting) and pass from stage to
stage through ``OneSlotHandoff``s, so while stage 2 works on frame N stage 1
can already work on frame N+1 and the sustained rate approaches that of the
slowest stage rather than the sum.  The last worker turns the frame into the
output picture and hands it to ``on_output``; a stage that raises drops that
frame (counted) and reports through ``on_error`` without stopping the chain.

A pipeline made only of stages that declare ``RUNS_INLINE`` (``passthrough``)
has nothing to overlap: it runs on the submitting thread, with no hand-off.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Sequence

import numpy as np

from bridge.mailbox import LatestFrameMailbox, MailboxClosed, OneSlotHandoff
from bridge.stage import StageBase, StageFrame, StreamSpec, rgb_to_format

log = logging.getLogger(__name__)

OutputCallback = Callable[[StageFrame, np.ndarray, int], None]
ErrorCallback = Callable[[str, BaseException, StageFrame], None]


class StageChain:
    """Runs ``stages`` (already set up) for one stream on their own threads."""

    def __init__(
        self,
        stages: Sequence[StageBase],
        stream: StreamSpec,
        on_output: OutputCallback,
        on_error: ErrorCallback,
        thread_prefix: str = "stage",
    ) -> None:
        if not stages:
            raise ValueError("a pipeline needs at least one stage (use 'passthrough')")
        self.stages = list(stages)
        self.stream = stream
        self._on_output = on_output
        self._on_error = on_error
        self.entrance: LatestFrameMailbox[StageFrame] = LatestFrameMailbox()
        self._handoffs: list[OneSlotHandoff[StageFrame]] = [OneSlotHandoff() for _ in self.stages[1:]]
        self._last_output: np.ndarray | None = None  # what a held frame repeats
        self._stopping = threading.Event()
        # a pipeline of do-nothing stages needs no threads: it runs on the thread that submits
        self.inline = all(getattr(stage, "RUNS_INLINE", False) for stage in self.stages)
        # A chain keeps its last output for held frames to repeat.  Not an inline one: its stages hold nothing,
        # and its output is the received message buffer, which it would pin until the next frame (measured:
        # 1080p round trips ~10 % slower).  A threaded chain does keep it: released at once, a zero-copy RESULT's
        # picture is freed by pyzmq's garbage-collector thread under the GIL instead, and the default stylize
        # pipeline lost ~7 % of its frame rate that way.
        self._keeps_last_output = not self.inline
        self._threads = [] if self.inline else [
            threading.Thread(
                target=self._run_stage, args=(i,), name=f"{thread_prefix}-{stream.name}-{stage.name}", daemon=True
            )
            for i, stage in enumerate(self.stages)
        ]
        self._started = False

    def stage(self, name: str) -> StageBase | None:
        return next((s for s in self.stages if s.name == name), None)

    def start(self) -> None:
        self._started = True
        for thread in self._threads:
            thread.start()

    def submit(self, frame: StageFrame) -> None:
        """Offer a frame; never blocks.  A frame still waiting is dropped (and counted)."""
        if self.inline:
            if self._stopping.is_set():
                return
            for stage in self.stages:
                if not self._process(stage, frame):
                    return
            self._emit(frame)
            return
        try:
            self.entrance.put(frame)
        except MailboxClosed:
            pass

    def add_drops(self, count: int) -> None:
        self.entrance.add_drops(count)

    def _inbox(self, i: int):
        return self.entrance if i == 0 else self._handoffs[i - 1]

    def _run_stage(self, i: int) -> None:
        stage = self.stages[i]
        inbox = self._inbox(i)
        outbox = self._handoffs[i] if i < len(self._handoffs) else None
        try:
            while not self._stopping.is_set():
                frame = inbox.take(timeout_s=0.25)
                if frame is None:
                    continue
                if not self._process(stage, frame):
                    continue
                if outbox is not None:
                    outbox.put(frame)
                else:
                    self._emit(frame)
        except MailboxClosed:
            pass
        except Exception:  # pragma: no cover - defensive: log and let the chain's other threads go on
            log.exception("stage worker %s of stream %s died", stage.name, self.stream.name)

    def _process(self, stage: StageBase, frame: StageFrame) -> bool:
        """Run one stage on one frame (skipped for held frames); False if it failed (frame dropped)."""
        if frame.held:
            frame.stage_us[stage.name] = 0
            return True
        t0 = time.perf_counter_ns()
        try:
            stage.process(frame)
        except Exception as exc:  # a stage failing must not stop the stream
            self.entrance.add_drops(1)
            self._on_error(stage.name, exc, frame)
            return False
        frame.stage_us[stage.name] = (time.perf_counter_ns() - t0) // 1000
        return True

    def _emit(self, frame: StageFrame) -> None:
        if frame.held and self._last_output is not None:
            output = self._last_output
        else:
            frame.held = False
            if frame.image is None:
                output = frame.input_color
            else:
                output = rgb_to_format(frame.image, self.stream.color_format)
            if self._keeps_last_output:
                self._last_output = output
        dropped = self.entrance.take_unreported_drops()
        try:
            self._on_output(frame, output, dropped)
        except Exception:
            log.exception("delivering a result of stream %s failed", self.stream.name)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the workers (a frame in progress finishes) and close every stage."""
        self._stopping.set()
        self.entrance.close()
        for handoff in self._handoffs:
            handoff.close()
        deadline = time.monotonic() + timeout_s
        if self._started:
            for thread in self._threads:
                if thread is not threading.current_thread():
                    thread.join(max(0.0, deadline - time.monotonic()))
        for stage in self.stages:
            try:
                stage.close()
            except Exception:
                log.exception("closing stage %s failed", stage.name)
