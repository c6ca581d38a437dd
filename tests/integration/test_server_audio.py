"""AUDIO over real sockets: the server checks each chunk against the stream's declaration, records it in a
take, and the exported WAV is in sync with the exported pictures (the simulator's claps land on their frames)."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest

from bridge.client import BridgeClient
from bridge.engine_simulator import EngineSimulator, SimulatorSettings
from bridge.protocol.audio_messages import AudioFormat
from bridge.protocol.errors import ErrorCode
from bridge.protocol.messages import Error
from bridge.server import BridgeServer
from bridge.server_config import ServerConfig
from bridge.simulated_sound import clap_onsets_s
from bridge.takes.export import export_take
from bridge.takes.reader import TakeReader
from bridge_harness import decl, drain, expect_error, picture, roundtrip

pytestmark = pytest.mark.timeout(120)
RATE = 16000


@pytest.fixture
def server(tmp_path: Path):
    srv = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"], takes_dir=str(tmp_path / "takes")))
    srv.start()
    yield srv
    srv.stop()


def _tone(samples: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(-2000, 2000, size=(samples, channels), dtype=np.int16)


def test_good_chunks_are_taken_silently_and_recorded_in_a_take(server, tmp_path: Path):
    client = BridgeClient(server.endpoint, engine="unity")
    try:
        client.connect([decl(0, audio=AudioFormat(RATE, 2))], capabilities=["audio"])
        chunks = [_tone(160, seed=i) for i in range(5)]
        client.send_audio(0, 0, chunks[0], RATE, block=True)  # before the take: checked, not recorded
        server.start_take("with-sound")
        for i, chunk in enumerate(chunks[1:], start=1):
            assert client.send_audio(0, i, chunk, RATE, t_capture_ns=1_000_000 * i, block=True)
        roundtrip(client, 0, 0, picture())  # frames still flow beside the sound
        assert not [m for m in drain(client) if isinstance(m, Error)]
        server.stop_take()
    finally:
        client.close()
    server.stop()
    take = TakeReader(tmp_path / "takes" / "with-sound")
    (key,) = take.stream_keys()
    recorded = list(take.audio_chunks(key))
    assert [c.t_capture_ns for c in recorded] == [1_000_000 * i for i in range(1, 5)]
    for chunk, sent in zip(recorded, chunks[1:]):
        assert (chunk.sample_rate_hz, chunk.channels) == (RATE, 2)
        np.testing.assert_array_equal(np.frombuffer(chunk.pcm_s16, "<i2").reshape(-1, 2), sent)


def test_chunks_that_break_the_declaration_are_refused_naming_the_cause(server):
    client = BridgeClient(server.endpoint, engine="unity")
    other = BridgeClient(server.endpoint, engine="unreal")
    try:
        client.send_audio(0, 0, _tone(160), RATE, block=True)
        assert "before HELLO" in expect_error(client, ErrorCode.NOT_WELCOMED).message
        client.connect([decl(0, audio=AudioFormat(RATE, 2)), decl(1, name="silent")])
        other.connect([decl(0)])
        cases = [
            (lambda: client.send_audio(7, 1, _tone(160), RATE), ErrorCode.UNKNOWN_STREAM, "stream 7 was not declared"),
            (lambda: client.send_audio(1, 1, _tone(160), RATE), ErrorCode.PLANE_MISMATCH, "declared without audio"),
            (lambda: client.send_audio(0, 1, _tone(160, channels=1), RATE), ErrorCode.PLANE_MISMATCH,
             "is 16000 Hz x 1 but stream 0 was declared 16000 Hz x 2"),
            (lambda: client.send_audio(0, 1, _tone(160), 44100), ErrorCode.PLANE_MISMATCH, "44100 Hz"),
        ]
        for send, code, words in cases:
            send()
            error = expect_error(client, code)
            assert words in error.message and error.ref_kind == "AUDIO"
        assert client.send_audio(0, 5, _tone(160), RATE, block=True)
        client.send_audio(0, 5, _tone(160), RATE, block=True)  # the same index again
        error = expect_error(client, ErrorCode.BAD_FIELD)
        assert "not above the previous chunk's 5" in error.message and (error.stream, error.index) == (0, 5)
        client.send_raw([b"\x88\xa1v\x01\xa4kind\xa5AUDIO", b""])  # a header cut short
        expect_error(client, ErrorCode.MALFORMED_HEADER)
        # the refused chunks hurt nobody: both engines are still served
        roundtrip(client, 0, 1, picture())
        roundtrip(other, 0, 1, picture())
    finally:
        client.close()
        other.close()


def _mp4_times_s(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted(float(packet.pts * packet.time_base) for packet in container.demux(stream)
                      if packet.pts is not None)


def test_the_simulators_claps_land_on_their_frames_in_the_exported_take(server, tmp_path: Path):
    fps = 30.0
    server.start_take("clapperboard")
    settings = SimulatorSettings(endpoint=server.endpoint, width=96, height=64, fps=fps, duration_s=3.4,
                                 pipeline="passthrough", send_depth=False, send_mask=False,
                                 audio_sample_rate_hz=RATE)
    simulator = EngineSimulator(settings)
    report = simulator.run()
    assert report.errors == [] and simulator.audio_chunks_sent > 90 and simulator.audio_chunks_skipped == 0
    server.stop_take()
    server.stop()
    take = TakeReader(tmp_path / "takes" / "clapperboard")
    (key,) = take.stream_keys()
    out = export_take(take, tmp_path / "export", inputs=True)
    input_mp4 = next(p for p in out.videos if p.name.endswith(".input.mp4"))
    (wav_path,) = out.wavs
    with wave.open(str(wav_path)) as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (RATE, 2)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2)
    times_s = _mp4_times_s(input_mp4)
    indices = [f.index for f in take.input_frames(key, planes=False)]
    assert len(times_s) == len(indices) and indices[0] == 0
    claps = clap_onsets_s(pcm, RATE)
    assert len(claps) >= 3  # scene seconds 0, 1, 2, (3)
    for k, clap_s in enumerate(claps):
        picture_s = times_s[indices.index(int(k * fps))]  # the frame rendered at scene second k
        assert abs(clap_s - picture_s) < 0.008, f"clap {k} at {clap_s:.4f} s, its frame at {picture_s:.4f} s"
