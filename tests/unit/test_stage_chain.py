"""StageChain with real stages: order, drops at the entrance only, failing frames, shutdown."""

from __future__ import annotations

import threading
import time

import numpy as np

from bridge.stage import StageBase, StageFrame, StreamSpec, create_stage
from bridge.stage_chain import StageChain

SPEC = StreamSpec("e", 0, "main", 32, 24, "RGBA8", None, False, 30.0)


class _Collector:
    def __init__(self) -> None:
        self.outputs: list[tuple[int, np.ndarray, int, bool]] = []
        self.errors: list[tuple[str, str, int]] = []
        self.cond = threading.Condition()

    def on_output(self, frame: StageFrame, output: np.ndarray, dropped: int) -> None:
        with self.cond:
            self.outputs.append((frame.index, output, dropped, frame.held))
            self.cond.notify_all()

    def on_error(self, stage: str, exc: BaseException, frame: StageFrame) -> None:
        with self.cond:
            self.errors.append((stage, str(exc), frame.index))
            self.cond.notify_all()

    def wait_for(self, count: int, timeout_s: float = 10.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.outputs) + len(self.errors) >= count, timeout_s), (
                f"only {len(self.outputs)} outputs and {len(self.errors)} errors")


def _frame(index: int, value: int = 0) -> StageFrame:
    rgba = np.full((24, 32, 4), value, np.uint8)
    return StageFrame(index=index, t_capture_ns=index * 33_333_333, t_received_ns=time.monotonic_ns(),
                      input_color=rgba, input_format="RGBA8")


def test_passthrough_output_is_the_input_buffer_itself():
    c = _Collector()
    chain = StageChain([create_stage("passthrough")], SPEC, c.on_output, c.on_error)
    chain.start()
    frame = _frame(0, 7)
    chain.submit(frame)
    c.wait_for(1)
    chain.close()
    assert c.outputs[0][1] is frame.input_color


def test_results_keep_order_through_several_stages():
    c = _Collector()
    stages = [create_stage("film_look", params={"codec": "jpeg", "quality": 50}), create_stage("passthrough")]
    for s in stages:
        s.setup(SPEC)
    chain = StageChain(stages, SPEC, c.on_output, c.on_error)
    chain.start()
    for i in range(20):
        chain.submit(_frame(i, i * 10))
        time.sleep(0.01)
    c.wait_for(20 - chain.entrance.dropped_total, timeout_s=10)
    chain.close()
    indices = [o[0] for o in c.outputs]
    assert indices == sorted(indices) and len(indices) >= 10
    assert sum(o[2] for o in c.outputs) <= chain.entrance.dropped_total


class _FailsOnOdd(StageBase):
    TYPE = "fails_on_odd"

    def process(self, frame: StageFrame) -> None:
        if frame.index % 2:
            raise ValueError(f"cannot take frame {frame.index}")


def test_a_failing_frame_is_reported_and_dropped_and_the_chain_goes_on():
    c = _Collector()
    chain = StageChain([_FailsOnOdd()], SPEC, c.on_output, c.on_error)
    chain.start()
    for i in range(6):
        chain.submit(_frame(i))
        c.wait_for(i + 1)
    chain.close()
    assert [o[0] for o in c.outputs] == [0, 2, 4]
    assert [e[2] for e in c.errors] == [1, 3, 5] and c.errors[0][0] == "fails_on_odd"
    assert chain.entrance.dropped_total == 3


def test_held_frames_repeat_the_previous_output_and_skip_later_stages():
    c = _Collector()
    cadence = create_stage("cadence", params={"mode": "frames", "hold_frames": 3})
    film = create_stage("film_look", params={"grain": 0.5})
    for s in (cadence, film):
        s.setup(SPEC)
    chain = StageChain([cadence, film], SPEC, c.on_output, c.on_error)
    chain.start()
    for i in range(6):
        chain.submit(_frame(i, 100 + i))
        c.wait_for(i + 1)
    chain.close()
    held = [o[3] for o in c.outputs]
    assert held == [False, True, True, False, True, True]
    assert c.outputs[1][1] is c.outputs[0][1] and c.outputs[2][1] is c.outputs[0][1]
    assert c.outputs[3][1] is not c.outputs[0][1]


def test_close_returns_promptly_and_closes_stages():
    closed = []

    class _Slow(StageBase):
        TYPE = "slow"

        def process(self, frame: StageFrame) -> None:
            time.sleep(0.2)

        def close(self) -> None:
            closed.append(True)

    c = _Collector()
    chain = StageChain([_Slow(), create_stage("passthrough")], SPEC, c.on_output, c.on_error)
    chain.start()
    chain.submit(_frame(0))
    time.sleep(0.05)
    t0 = time.monotonic()
    chain.close()
    assert time.monotonic() - t0 < 2.0
    assert closed == [True]


def test_an_inline_chain_keeps_no_output_alive_and_a_threaded_chain_keeps_its_last():
    """An inline (passthrough) chain's output is the received buffer: it must not stay pinned until the next
    frame.  A threaded chain keeps its last output (held frames repeat it)."""
    import gc
    import weakref

    c = _Collector()
    inline = StageChain([create_stage("passthrough")], SPEC, c.on_output, c.on_error)
    assert inline.inline
    inline.start()
    frame = _frame(0, 9)
    inline.submit(frame)
    c.wait_for(1)
    inline.close()
    output = weakref.ref(c.outputs[0][1])
    del frame
    c.outputs.clear()
    gc.collect()
    assert output() is None, "the inline chain still holds its last output"

    film = create_stage("film_look", params={"grain": 0.2})
    film.setup(SPEC)
    threaded = StageChain([film], SPEC, c.on_output, c.on_error)
    threaded.start()
    threaded.submit(_frame(1, 9))
    c.wait_for(1)
    threaded.close()
    output = weakref.ref(c.outputs[0][1])
    c.outputs.clear()
    gc.collect()
    assert output() is not None, "the threaded chain let go of its last output"
