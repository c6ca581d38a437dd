"""Live control of running pipelines, judged by the pictures that come back: CONTROL, glides, OSC."""

from __future__ import annotations

import time

import numpy as np
import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.udp_client import SimpleUDPClient

from bridge.client import BridgeClientError
from bridge.protocol.errors import ErrorCode
from bridge.protocol.messages import ControlAck
from bridge_harness import ack_of, color_of, decl, mean_abs_diff, picture, roundtrip

pytestmark = pytest.mark.timeout(60)

IMAGE = picture(64, 64, 4, seed=31)
RGB = IMAGE[..., :3]


class Engine:
    """One engine with one stylize stream (the ``default`` pipeline) and a running frame index."""

    def __init__(self, client, stream: int = 0) -> None:
        self.client = client
        self.stream = stream
        self.index = 0

    def frame(self, image: np.ndarray = IMAGE) -> np.ndarray:
        self.index += 1
        return color_of(roundtrip(self.client, self.stream, self.index, image))

    def styled_amount(self) -> float:
        return mean_abs_diff(self.frame()[..., :3], RGB)


@pytest.fixture
def engine(server, make_client) -> Engine:
    client = make_client(server, engine="controller")
    client.connect([decl(0, "main", 64, 64, pipeline="default")])
    return Engine(client)


def _ok(ack: ControlAck) -> dict:
    assert isinstance(ack, ControlAck) and ack.ok is True and ack.code is None, ack
    return ack.applied


def _rejected(ack: ControlAck, code: ErrorCode, *words: str) -> None:
    assert isinstance(ack, ControlAck) and ack.ok is False and ack.code == int(code), ack
    assert ack.applied == {}
    for word in words:
        assert word in (ack.reason or ""), f"{ack.reason!r} does not name {word!r}"


def _smoothstep(u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    return u * u * (3 - 2 * u)


# ---------------------------------------------------------------- CONTROL between frames


def test_strength_changes_the_very_next_frame(engine):
    full = engine.frame()
    assert mean_abs_diff(full[..., :3], RGB) > 10
    assert _ok(ack_of(engine.client, 0, "stylize", {"strength": 0.0})) == {"strength": 0.0}
    out = engine.frame()
    assert np.array_equal(out[..., :3], RGB)  # strength 0: the engine's picture exactly
    assert np.all(out[..., 3] == 255)
    assert _ok(ack_of(engine.client, 0, "stylize", {"strength": 0.5})) == {"strength": 0.5}
    half = engine.frame()
    expected = RGB.astype(np.float32) * 0.5 + full[..., :3].astype(np.float32) * 0.5
    assert np.abs(half[..., :3].astype(np.float32) - expected).max() <= 1.5  # a linear mix
    assert _ok(ack_of(engine.client, 0, "stylize", {"strength": 1}))["strength"] == 1.0  # int accepted as float
    assert np.abs(engine.frame().astype(int) - full.astype(int)).max() <= 2


def test_style_change_makes_a_measurable_difference_and_is_reproducible(engine):
    style19 = engine.frame()  # the default pipeline's style
    applied = _ok(ack_of(engine.client, 0, "stylize", {"style": 3}))
    assert applied["style_weights"] == [1.0 if i == 3 else 0.0 for i in range(26)]
    style3 = engine.frame()
    assert mean_abs_diff(style3, style19) > 5
    _ok(ack_of(engine.client, 0, "stylize", {"style_weights": [0.0] * 19 + [5.0] + [0.0] * 6}))
    assert np.abs(engine.frame().astype(int) - style19.astype(int)).max() <= 2  # same look as style 19


def test_style_alias_and_style_weights_are_validated(engine):
    before = engine.frame()
    for bad, words in (({"style": 26}, ("style", "0..25")), ({"style": 7.5}, ("style",)), ({"style": True}, ("style",)),
                       ({"style": -1}, ("style",)),
                       ({"style_weights": [1.0] * 25}, ("26",)), ({"style_weights": [1.0] * 27}, ("26",)),
                       ({"style_weights": [-1.0] + [1.0] * 25}, ("style_weights",)),
                       ({"style_weights": [0.0] * 26}, ("style_weights",)),
                       ({"style": 2, "style_weights": [1.0] * 26}, ("style",))):
        ack = ack_of(engine.client, 0, "stylize", bad)
        if ack.ok is False:
            _rejected(ack, ErrorCode.BAD_PARAM_VALUE, *words)
        else:
            pytest.fail(f"{bad} was accepted: {ack}")
    # a value whose msgpack type is not allowed at all is an ERROR, not a CONTROL_ACK (protocol 6.5, 7.4)
    with pytest.raises(BridgeClientError) as info:
        ack_of(engine.client, 0, "stylize", {"style_weights": [1.0] * 25 + ["x"]})
    err = info.value.error
    assert err is not None and err.code == ErrorCode.BAD_PARAM_VALUE and err.ref_kind == "CONTROL"
    assert "style_weights" in err.message
    applied = _ok(ack_of(engine.client, 0, "stylize", {"style_weights": [2, 2] + [0] * 24}))
    assert applied["style_weights"] == [0.5, 0.5] + [0.0] * 24  # normalised
    blend = engine.frame()
    assert mean_abs_diff(blend, before) > 5
    # nothing of the rejected updates was applied: going back to style 19 gives the first picture again
    _ok(ack_of(engine.client, 0, "stylize", {"style": 19}))
    assert np.abs(engine.frame().astype(int) - before.astype(int)).max() <= 2


def test_film_look_control_changes_the_output(server, make_client):
    client = make_client(server)
    client.connect([decl(0, "archive", 64, 48, pipeline="aged_archive")])
    image = picture(48, 64, 4, seed=12)
    aged = color_of(roundtrip(client, 0, 0, image))
    assert mean_abs_diff(aged[..., :3], image[..., :3]) > 5
    _ok(ack_of(client, 0, "cadence", {"hold_frames": 1}))  # a new picture on every frame
    neutral = {"codec": "none", "grain": 0.0, "fade": 0.0, "chroma_bleed_px": 0.0, "weave_px": 0.0, "vignette": 0.0}
    assert _ok(ack_of(client, 0, "film_look", neutral)) == neutral
    result = roundtrip(client, 0, 1, image)
    assert result.held is False
    assert np.array_equal(color_of(result)[..., :3], image[..., :3])  # every effect off: the picture itself
    _ok(ack_of(client, 0, "film_look", {"fade": 1.0}))
    faded = color_of(roundtrip(client, 0, 2, image))
    assert faded[..., :3].min() >= 40  # lifted blacks
    assert mean_abs_diff(faded[..., :3], image[..., :3]) > 10


def test_glide_moves_strength_gradually_along_a_smoothstep(engine):
    full_amount = engine.styled_amount()
    assert full_amount > 10
    _ok(ack_of(engine.client, 0, "stylize", {"strength": 0.0}))
    assert engine.styled_amount() == 0.0
    glide_s = 1.0
    t_sent = time.monotonic()
    ack = ack_of(engine.client, 0, "stylize", {"strength": 1.0}, glide_ms=glide_s * 1000)
    t_acked = time.monotonic()
    assert _ok(ack) == {"strength": 1.0}  # the target is reported at once
    samples = []  # (fraction of full stylization, lowest possible glide position, highest possible)
    while time.monotonic() - t_sent < glide_s + 0.25:
        t_frame = time.monotonic()
        amount = engine.styled_amount()
        t_back = time.monotonic()
        samples.append((amount / full_amount, _smoothstep((t_frame - t_acked) / glide_s),
                        _smoothstep((t_back - t_sent) / glide_s)))
        time.sleep(0.05)
    fractions = [s for s, _, _ in samples]
    assert all(b >= a - 0.02 for a, b in zip(fractions, fractions[1:])), fractions  # only grows
    assert fractions[0] < 0.3 and fractions[-1] > 0.97, fractions
    assert sum(0.1 < f < 0.9 for f in fractions) >= 3, f"too few intermediate pictures: {fractions}"
    for fraction, lo, hi in samples:
        assert lo - 0.06 <= fraction <= hi + 0.06, (fraction, lo, hi)


# ---------------------------------------------------------------- OSC


class OscPeer:
    """A real OSC sender (python-osc's UDP client); the bridge answers to the address it sends from."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.client = SimpleUDPClient(*address)

    def send(self, address: str, *args) -> tuple[str, list]:
        self.client.send_message(address, list(args) if len(args) != 1 else args[0])
        reply = OscMessage(self.client.receive(timeout=5.0))
        return reply.address, list(reply.params)

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def osc_setup(make_server, make_client):
    server = make_server(osc_enabled=True, osc_port=0)
    assert server.osc_address is not None and server.osc_address[1] > 0
    client = make_client(server, engine="osc-engine")
    client.connect([decl(0, "main", 64, 64, pipeline="default")])
    peer = OscPeer(server.osc_address)
    yield server, Engine(client), peer
    peer.close()


def test_osc_sets_a_parameter_and_acks_to_the_sender(osc_setup):
    server, engine, osc = osc_setup
    assert engine.styled_amount() > 10
    assert osc.send("/bridge/main/stylize/strength", 0.0) == ("/bridge/ack", ["/bridge/main/stylize/strength", 1])
    assert engine.styled_amount() == 0.0
    assert osc.send("/bridge/0/stylize/strength", 1.0) == ("/bridge/ack", ["/bridge/0/stylize/strength", 1])
    assert engine.styled_amount() > 10
    assert osc.send("/bridge/*/stylize/style", 3)[0] == "/bridge/ack"
    assert osc.send("/bridge/main/stylize/style_weights", *([0] * 19 + [1] + [0] * 6))[0] == "/bridge/ack"


def test_osc_errors_name_the_cause_and_change_nothing(osc_setup):
    server, engine, osc = osc_setup
    before = engine.frame()
    cases = {
        "/bridge/main/stylize/strength": ((3.0,), ("strength",)),
        "/bridge/main/stylize/threads": ((1,), ("threads",)),
        "/bridge/main/stylize/no_such_param": ((1.0,), ("no_such_param",)),
        "/bridge/main/film_look/grain": ((0.5,), ("film_look",)),
        "/bridge/nobody/stylize/strength": ((0.0,), ("nobody",)),
        "/bridge/main/stylize": ((0.0,), ("/bridge/<stream>/<stage>/<param>",)),
        "/bridge/main/stylize/strength/glide": (("slow", 0.0), ("glide",)),
        "/bridge/main/stylize/style": ((7.5,), ("style",)),
    }
    for address, (args, words) in cases.items():
        reply_address, params = osc.send(address, *args)
        assert reply_address == "/bridge/error", (address, params)
        assert params[0] == address and isinstance(params[1], str)
        for word in words:
            assert word in params[1], f"{address}: {params[1]!r} does not name {word!r}"
    assert np.abs(engine.frame().astype(int) - before.astype(int)).max() <= 2


def test_osc_glide_moves_strength_over_time(osc_setup):
    server, engine, osc = osc_setup
    full_amount = engine.styled_amount()
    reply = osc.send("/bridge/main/stylize/strength/glide", 800, 0.0)
    assert reply == ("/bridge/ack", ["/bridge/main/stylize/strength/glide", 1])
    fractions = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.0:
        fractions.append(engine.styled_amount() / full_amount)
        time.sleep(0.05)
    assert all(b <= a + 0.02 for a, b in zip(fractions, fractions[1:])), fractions  # only falls
    assert fractions[0] > 0.7 and fractions[-1] == 0.0, fractions
    assert sum(0.1 < f < 0.9 for f in fractions) >= 2, fractions


def test_osc_star_reaches_the_streams_of_every_engine(osc_setup, make_client):
    server, engine, osc = osc_setup
    other_client = make_client(server, engine="second")
    other_client.connect([decl(4, "side", 64, 64, pipeline="default")])
    other = Engine(other_client, stream=4)
    assert osc.send("/bridge/*/stylize/strength", 0.0) == ("/bridge/ack", ["/bridge/*/stylize/strength", 2])
    assert engine.styled_amount() == 0.0 and other.styled_amount() == 0.0
    assert osc.send("/bridge/side/stylize/strength", 1.0) == ("/bridge/ack", ["/bridge/side/stylize/strength", 1])
    assert engine.styled_amount() == 0.0 and other.styled_amount() > 10


def test_osc_star_with_a_stream_lacking_the_stage_reports_an_error_but_changes_the_others(osc_setup, make_client):
    server, engine, osc = osc_setup
    other_client = make_client(server, engine="second")
    other_client.connect([decl(4, "side", 64, 64, pipeline="default"), decl(5, "plain", 64, 64)])
    other = Engine(other_client, stream=4)
    address, params = osc.send("/bridge/*/stylize/strength", 0.0)
    assert address == "/bridge/error" and "stylize" in params[1] and "passthrough" in params[1]
    # docs/pipeline.md 5.2: each stream is updated on its own; those with the stage did change
    assert engine.styled_amount() == 0.0 and other.styled_amount() == 0.0
    plain = color_of(roundtrip(other_client, 5, 1, IMAGE))
    assert np.array_equal(plain, IMAGE)
