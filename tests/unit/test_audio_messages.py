"""AUDIO and the stream's audio format: building, parsing and refusing chunks (docs/protocol.md 6.14)."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.protocol import Audio, AudioFormat, ErrorCode, Hello, ProtocolError, StreamDeclaration
from bridge.protocol.header_codec import encode_header
from bridge.protocol.messages import parse_message, serialize_message
from bridge.simulated_sound import SimulatedSoundtrack, SoundSettings, clap_onsets_s


def _chunk_parts(**changes):
    header = {"v": 1, "kind": "AUDIO", "stream": 2, "index": 5, "t_capture_ns": 10, "sample_rate_hz": 16000,
              "channels": 1, "samples": 3}
    header.update(changes)
    return [encode_header(header)]


def test_a_stereo_chunk_round_trips_with_interleaved_samples():
    pcm = np.array([[1, -1], [300, -300], [32767, -32768]], dtype=np.int16)
    chunk = Audio.from_array(1, 9, 123, 48000, pcm)
    parts = serialize_message(chunk)
    assert bytes(parts[1]) == np.array([1, -1, 300, -300, 32767, -32768], "<i2").tobytes()  # L R L R ...
    back = parse_message([bytes(p) for p in parts])
    assert isinstance(back, Audio)
    assert (back.stream, back.index, back.t_capture_ns, back.sample_rate_hz, back.channels, back.samples) == (
        1, 9, 123, 48000, 2, 3)
    np.testing.assert_array_equal(back.to_array(), pcm)
    assert back.duration_ns == 3 * 1_000_000_000 // 48000


def test_mono_is_one_channel_and_other_dtypes_are_refused():
    assert Audio.from_array(0, 0, 0, 8000, np.zeros(80, np.int16)).channels == 1
    with pytest.raises(ValueError, match="int16"):
        Audio.from_array(0, 0, 0, 8000, np.zeros(80, np.float32))
    with pytest.raises(ValueError, match="shaped"):
        Audio.from_array(0, 0, 0, 8000, np.zeros((2, 2, 2), np.int16))


@pytest.mark.parametrize("changes, part_len, code, words", [
    ({}, 5, ErrorCode.PLANE_MISMATCH, "has 5 bytes but 3 samples x 1 channels"),
    ({"channels": 9}, 6, ErrorCode.BAD_FIELD, "channels 9 is outside 1..8"),
    ({"sample_rate_hz": 7999}, 6, ErrorCode.BAD_FIELD, "sample_rate_hz 7999"),
    ({"samples": 0}, 0, ErrorCode.BAD_FIELD, "samples 0 is outside"),
    ({"samples": 16001}, 32002, ErrorCode.BAD_FIELD, "at most one second"),
    ({"t_capture_ns": -1}, 6, ErrorCode.BAD_FIELD, "t_capture_ns"),
    ({"channels": 1.0}, 6, ErrorCode.BAD_FIELD, "channels"),
])
def test_bad_chunks_are_refused_naming_the_cause_stream_and_index(changes, part_len, code, words):
    with pytest.raises(ProtocolError) as info:
        parse_message(_chunk_parts(**changes) + [bytes(part_len)])
    assert info.value.code == code
    assert words in info.value.message
    assert (info.value.stream, info.value.index) == (2, 5)


def test_a_chunk_needs_exactly_one_part():
    for extra in ([], [bytes(6), bytes(6)]):
        with pytest.raises(ProtocolError) as info:
            parse_message(_chunk_parts() + extra)
        assert info.value.code == ErrorCode.PLANE_MISMATCH and "exactly one binary part" in info.value.message


def test_hello_carries_the_audio_format_and_refuses_a_bad_one():
    decl = StreamDeclaration(0, "cam", 64, 32, audio=AudioFormat(44100, 1))
    hello = parse_message(serialize_message(Hello(engine="e", streams=[decl])))
    assert hello.streams[0].audio == AudioFormat(44100, 1)
    assert list(hello.to_header()["streams"][0])[-1] == "audio"  # canonical order: after pipeline
    bad = Hello(engine="e", streams=[decl]).to_header()
    bad["streams"][0]["audio"] = {"sample_rate_hz": 44100, "channels": 0}
    with pytest.raises(ProtocolError) as info:
        parse_message([encode_header(bad)])
    assert info.value.code == ErrorCode.BAD_FIELD and "streams[0].audio.channels" in info.value.message
    with pytest.raises(ValueError):
        AudioFormat(48000, 9)


def test_the_soundtrack_is_seamless_across_chunks_and_its_claps_fall_on_whole_seconds():
    sound = SimulatedSoundtrack(SoundSettings(sample_rate_hz=16000, channels=2))
    whole = sound.samples(0, 3 * 16000)
    pieces = [sound.samples(sound.sample_index(i / 30), sound.sample_index((i + 1) / 30)) for i in range(90)]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    onsets = clap_onsets_s(whole, 16000)
    assert len(onsets) == 3
    assert np.allclose(onsets, [0.0, 1.0, 2.0], atol=0.004)
    assert not np.array_equal(whole[:, 0], whole[:, 1])  # the channels differ, so a swap would show
