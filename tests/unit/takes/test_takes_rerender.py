"""Re-render a recorded take through another pipeline: one output per input, in order, controls at the right frames."""

from __future__ import annotations

import av
import numpy as np
import pytest

from bridge.pipeline_config import PipelineConfig, load_builtin
from bridge.stage import StageBase, StageFrame
from bridge.takes import RerenderError, TakeReader, TakeRecorder, rerender
from bridge.takes.rerender import RerenderProgress, rerender_stages
from mocap.pose_wire import pose_to_wire
from mocap.skeleton import t_pose

FRAME_NS = 33_333_333
PASSTHROUGH = {"name": "passthrough", "stage": [{"type": "passthrough"}]}


def _record(tmp_path, clock, frames, controls: dict[int, list[tuple]], poses_per_frame: int = 0):
    """A passthrough take of ``frames``; ``controls[i]`` are (stage, params, glide_ms) applied before frame i."""
    recorder = TakeRecorder(tmp_path, "take", clock_ns=clock, fps_hint=30.0)
    recorder.start({"cam": PASSTHROUGH})
    for i, frame in enumerate(frames):
        for stage, params, glide_ms in controls.get(i, []):
            recorder.on_control("cam", stage, params, glide_ms, i)
        recorder.on_input("cam", i, i * FRAME_NS, None, frame.color_rgba, frame.depth_m, frame.actor_mask,
                          color_format="RGBA8")
        recorder.on_output("cam", i, frame.color_rgba, False, color_format="RGBA8")
        for k in range(poses_per_frame):
            fields, payload = pose_to_wire(t_pose("bob", timestamp_ns=i * FRAME_NS + k))
            recorder.on_mocap("bob", fields, payload)
        clock.advance(FRAME_NS)
    info = recorder.stop()
    assert recorder.failed is None
    return TakeReader(info.path)


def _decoded(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_stylize_strength_changes_land_on_the_recorded_frames(tmp_path, clock, scene_frames):
    frames = scene_frames[:24]
    reader = _record(tmp_path, clock, frames, {8: [("stylize", {"strength": 0.0}, None)],
                                               16: [("stylize", {"strength": 1.0}, None)]})
    progress: list[RerenderProgress] = []
    report = rerender(reader, load_builtin("default"), tmp_path / "out.mkv", progress.append)
    assert report.frames_written == 24 and report.input_indices == list(range(24))
    assert [(c.input_index, c.params) for c in report.controls_applied] == [(8, {"strength": 0.0}),
                                                                            (16, {"strength": 1.0})]
    assert [p.done for p in progress] == list(range(1, 25)) and progress[-1].total == 24
    assert progress[-1].eta_s == 0.0
    out = _decoded(tmp_path / "out.mkv")  # lossless: the file holds exactly what the pipeline made
    assert len(out) == 24
    originals = [f.to_rgb() for f in frames]
    for i, picture in enumerate(out):
        if 8 <= i < 16:  # strength 0 gives back the engine picture itself: frame i, in its place
            assert np.array_equal(picture, originals[i]), i
            assert not np.array_equal(picture, originals[i - 1])
        else:
            assert _diff(picture, originals[i]) > 15, i


def test_glides_run_on_the_take_clock_not_the_render_speed(tmp_path, clock, scene_frames):
    frames = scene_frames[:16]
    # strength 1 -> 0 over 200 ms starting before frame 4: frames 4..9 are in the glide, 10.. are at 0
    reader = _record(tmp_path, clock, frames, {4: [("stylize", {"strength": 0.0}, 200.0)]})
    rerender(reader, load_builtin("default"), tmp_path / "glide.mkv")
    out = _decoded(tmp_path / "glide.mkv")
    diffs = [_diff(picture, frame.to_rgb()) for picture, frame in zip(out, frames)]
    assert all(d > 15 for d in diffs[:4])
    assert all(a > b for a, b in zip(diffs[3:10], diffs[4:10]))  # fades out frame by frame
    assert 0 < diffs[6] < diffs[3]
    assert diffs[10:] == [0.0] * 6


def test_a_different_pipeline_holds_frames_and_follows_film_look_controls(tmp_path, clock, scene_frames):
    frames = scene_frames[:20]
    reader = _record(tmp_path, clock, frames, {6: [("film_look", {"vignette": 1.0, "fade": 0.0}, None)],
                                               14: [("film_look", {"vignette": 0.0}, None)]})
    config = load_builtin("aged_archive")
    report = rerender(reader, config, tmp_path / "aged.mp4")
    assert report.frames_written == 20 and report.input_indices == list(range(20))
    assert report.held == [i % 2 == 1 for i in range(20)]  # cadence on twos
    out = _decoded(tmp_path / "aged.mp4")
    assert len(out) == 20

    def corner_to_centre(picture: np.ndarray) -> float:
        h, w = picture.shape[:2]
        corners = np.concatenate([picture[:8, :8], picture[:8, -8:], picture[-8:, :8], picture[-8:, -8:]])
        return float(corners.mean()) / float(picture[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].mean())

    ratios = [corner_to_centre(p) for p in out]
    # a held frame repeats the last processed one, so the look changes with the first processed frame >= 6 / >= 14
    dark = [i for i in range(20) if 6 <= i - (i % 2) < 14]
    light = [i for i in range(20) if i not in dark]
    assert max(ratios[i] for i in dark) < min(ratios[i] for i in light)


def test_controls_the_new_pipeline_cannot_take_are_reported_not_applied(tmp_path, clock, scene_frames):
    reader = _record(tmp_path, clock, scene_frames[:6], {2: [("face_swap", {"strength": 1.0}, None),
                                                           ("passthrough", {"no_such": 1}, None)]})
    reader_controls = reader.controls("cam")
    assert len(reader_controls) == 2
    report = rerender(reader, PipelineConfig.from_mapping(PASSTHROUGH), tmp_path / "p.mkv")
    assert report.frames_written == 6 and report.controls_applied == []
    reasons = [reason for _, reason in report.controls_skipped]
    assert "stage 'face_swap' is not in this pipeline" in reasons[0]
    assert "refused it" in reasons[1] and "no_such" in reasons[1]
    out = _decoded(tmp_path / "p.mkv")
    assert all(np.array_equal(o, f.to_rgb()) for o, f in zip(out, scene_frames))


class PoseProbe(StageBase):
    """A stage that consumes mocap: notes how many poses it had seen before each frame."""

    TYPE = "pose_probe"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []
        self.before_frame: list[int] = []
        self.depth_dtypes: list[str] = []

    def on_mocap(self, record) -> None:
        assert record.pose().performer_id == "bob"
        self.seen.append(record.t_ns)

    def process(self, frame: StageFrame) -> None:
        self.before_frame.append(len(self.seen))
        assert all(t <= frame.t_received_ns for t in self.seen)
        self.depth_dtypes.append(str(frame.depth.dtype))
        frame.image = np.ascontiguousarray(frame.rgb()[:, ::-1])


def test_recorded_mocap_reaches_stages_that_consume_it_and_scale_upsizes(tmp_path, clock, scene_frames):
    reader = _record(tmp_path, clock, scene_frames[:5], {}, poses_per_frame=2)
    probe = PoseProbe()
    report = rerender_stages(reader, [probe], tmp_path / "probe.mkv", scale=2.0)
    # the two poses recorded at frame i's take time reach the stage before frame i, none from later
    assert probe.before_frame == [2, 4, 6, 8, 10] and report.poses_delivered == 10
    assert probe.depth_dtypes == ["float16"] * 5
    out = _decoded(tmp_path / "probe.mkv")
    assert (report.width, report.height) == (320, 192) and out[0].shape == (192, 320, 3)


def test_a_failing_stage_stops_the_rerender_with_the_frame_named(tmp_path, clock, scene_frames):
    class Broken(StageBase):
        TYPE = "broken"

        def process(self, frame: StageFrame) -> None:
            if frame.index == 3:
                raise RuntimeError("model exploded")

    reader = _record(tmp_path, clock, scene_frames[:5], {})
    with pytest.raises(RerenderError, match="stage 'broken' failed on input frame 3.*model exploded"):
        rerender_stages(reader, [Broken()], tmp_path / "x.mkv")
    with pytest.raises(RerenderError, match="no stream 'nope'"):
        rerender_stages(reader, [Broken()], tmp_path / "y.mkv", stream_key="nope")


def test_rerender_with_the_pipeline_that_was_live(tmp_path, clock, scene_frames):
    from bridge.takes import pipeline_as_dict

    live = load_builtin("aged_archive")
    recorder = TakeRecorder(tmp_path, "live", clock_ns=clock)
    recorder.start({"cam": pipeline_as_dict(live)})
    for i, frame in enumerate(scene_frames[:4]):
        recorder.on_input("cam", i, i * FRAME_NS, None, frame.to_rgb(), None, None)
        clock.advance(FRAME_NS)
    reader = TakeReader(recorder.stop().path)
    report = rerender(reader, "recorded", tmp_path / "same.mkv")
    assert report.pipeline == "aged_archive" and report.frames_written == 4
    assert report.held == [False, True, False, True]
    assert PipelineConfig.from_mapping(reader.pipelines["cam"]).stages == live.stages
