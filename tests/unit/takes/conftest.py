"""Fixtures for the take tests: rendered scene frames and a take clock the test moves by hand."""

from __future__ import annotations

import threading

import pytest

from bridge.simulated_scene import SceneSettings, SimulatedScene


class SteppedClock:
    """A monotonic clock in ns that only moves when the test says so (``TakeRecorder(clock_ns=...)``)."""

    def __init__(self, start_ns: int = 5_000_000_000) -> None:
        self.now_ns = start_ns
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            return self.now_ns

    def advance(self, ns: int) -> None:
        with self._lock:
            self.now_ns += ns


@pytest.fixture(scope="session")
def scene_frames():
    """40 frames of the simulated scene at 160x96 (RGBA, float32 depth, mask)."""
    scene = SimulatedScene(SceneSettings(160, 96, seed=3))
    return [scene.render(i / 30.0) for i in range(40)]


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()
