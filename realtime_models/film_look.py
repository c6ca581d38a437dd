"""The "aged archive footage" look: a faded, grainy, weaving print, telecined and lossily re-encoded.

:class:`FilmLook` applies, in the order the real chain would damage a picture:

1. gate weave   - the film slipping in the projector gate: a small, smoothly
                  wandering random translation (``weave_px``);
2. fade         - a faded print: lifted blacks, dimmer whites, desaturation
                  and a warm/sepia cast (``fade``);
3. grain        - monochrome film grain (``grain``);
4. vignette     - lens fall-off towards the corners (``vignette``);
5. interlace    - telecine combing: odd lines come from the previous frame
                  (``interlace``);
6. chroma bleed - analogue video's narrow chroma bandwidth: colour smeared to
                  the right (``chroma_bleed_px``);
7. re-encoding  - a REAL lossy codec round trip (``codec``, ``quality``):
                  JPEG through OpenCV, or MPEG-2 / MPEG-4 Part 2 / H.264
                  through persistent PyAV encoder and decoder contexts, so
                  P-frames drift and smear the way broadcast dubs do.

The video codecs run with no B-frames, one thread and low-delay flags, so each
frame in gives its own frame out with no added latency. All randomness comes
from one numpy Generator seeded by ``seed``: two FilmLooks with the same
settings fed the same frames produce identical output.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from fractions import Fraction

import av
import cv2
import numpy as np

logger = logging.getLogger(__name__)

CODECS: tuple[str, ...] = ("none", "jpeg", "mpeg2", "mpeg4", "h264")
_VIDEO_ENCODERS = {"mpeg2": "mpeg2video", "mpeg4": "mpeg4", "h264": "libx264"}
_VIDEO_DECODERS = {"mpeg2": "mpeg2video", "mpeg4": "mpeg4", "h264": "h264"}

QUALITY_RANGE = (1, 100)
CHROMA_BLEED_RANGE_PX = (0.0, 64.0)
WEAVE_RANGE_PX = (0.0, 32.0)
UNIT_RANGE = (0.0, 1.0)

GOP_FRAMES = 12  # one intra frame every 12, as on broadcast MPEG-2: P-frame drift in between
MPEG_QSCALE_BEST, MPEG_QSCALE_WORST = 2, 31  # MPEG-2 / MPEG-4 quantiser range
H264_CRF_BEST, H264_CRF_WORST = 18, 51
CODEC_TIME_BASE = Fraction(1, 25)

GRAIN_STD_AT_FULL = 36.0  # grain=1: standard deviation in 8-bit levels
GRAIN_CLUMP_SIGMA_PX = 0.6  # grain is slightly larger than a pixel
GRAIN_TILE_MARGIN_PX = 128  # random window offset range into the pregenerated grain field
FADE_LIFTED_BLACK_AT_FULL = 48.0  # 8-bit level black rises to at fade=1
FADE_DIMMED_WHITE_AT_FULL = 28.0  # levels white drops by at fade=1
FADE_DESATURATION_AT_FULL = 0.7
FADE_TINT_GAINS_AT_FULL = (0.10, -0.02, -0.24)  # R, G, B gain change at fade=1: warm, sepia-ish
VIGNETTE_CORNER_DARKENING_AT_FULL = 0.75
WEAVE_SMOOTHING = 0.65  # share of last frame's weave kept: the gate wanders, it does not jump
_REC601_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)


@dataclass
class FilmLookSettings:
    """What the film look does; every effect at its default is off."""

    codec: str = "none"  # one of CODECS
    quality: int = 60  # 1..100: JPEG quality, or mapped to the MPEG quantiser / H.264 CRF
    chroma_bleed_px: float = 0.0  # 0..64: length of the rightward colour smear
    grain: float = 0.0  # 0..1
    fade: float = 0.0  # 0..1: lifted blacks + desaturation + warm tint
    weave_px: float = 0.0  # 0..32: largest gate-weave translation
    interlace: bool = False  # comb odd lines from the previous frame
    vignette: float = 0.0  # 0..1: corner darkening
    seed: int = 0

    def validate(self) -> None:
        """Raise ValueError naming the first field outside its allowed range."""
        if self.codec not in CODECS:
            raise ValueError(f"FilmLookSettings.codec must be one of {', '.join(CODECS)}; got {self.codec!r}")
        if isinstance(self.quality, bool) or not isinstance(self.quality, (int, np.integer)):
            raise ValueError(f"FilmLookSettings.quality must be an integer {QUALITY_RANGE[0]}..{QUALITY_RANGE[1]}; got {self.quality!r}")
        _check_range("quality", self.quality, QUALITY_RANGE)
        _check_range("chroma_bleed_px", self.chroma_bleed_px, CHROMA_BLEED_RANGE_PX)
        _check_range("grain", self.grain, UNIT_RANGE)
        _check_range("fade", self.fade, UNIT_RANGE)
        _check_range("weave_px", self.weave_px, WEAVE_RANGE_PX)
        _check_range("vignette", self.vignette, UNIT_RANGE)
        if not isinstance(self.interlace, (bool, np.bool_)):
            raise ValueError(f"FilmLookSettings.interlace must be True or False; got {self.interlace!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"FilmLookSettings.seed must be a non-negative integer; got {self.seed!r}")


def _check_range(name: str, value: object, bounds: tuple[float, float]) -> None:
    low, high = bounds
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"FilmLookSettings.{name} must be a number {low}..{high}; got {value!r}") from None
    if not (low <= number <= high):  # also rejects NaN
        raise ValueError(f"FilmLookSettings.{name} must be within {low}..{high}; got {value!r}")


def mpeg_qscale_for_quality(quality: int) -> int:
    """Quality 100 -> quantiser 2 (near transparent), quality 1 -> 31 (heavy macroblocking)."""
    fraction_lost = (QUALITY_RANGE[1] - quality) / (QUALITY_RANGE[1] - QUALITY_RANGE[0])
    return round(MPEG_QSCALE_BEST + fraction_lost * (MPEG_QSCALE_WORST - MPEG_QSCALE_BEST))


def h264_crf_for_quality(quality: int) -> int:
    """Quality 100 -> CRF 18 (visually lossless), quality 1 -> CRF 51 (smeared blocks)."""
    fraction_lost = (QUALITY_RANGE[1] - quality) / (QUALITY_RANGE[1] - QUALITY_RANGE[0])
    return round(H264_CRF_BEST + fraction_lost * (H264_CRF_WORST - H264_CRF_BEST))


def jpeg_round_trip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Encode a uint8 RGB frame as a baseline 4:2:0 JPEG at ``quality`` and decode it again."""
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError(f"OpenCV could not JPEG-encode a {rgb.shape} frame at quality {quality}")
    bgr = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)


class VideoCodecRoundTrip:
    """A persistent encoder + decoder pair: each frame goes through a real video codec.

    The contexts live across frames, so inter-frame prediction (and its
    smearing at low quality) is real. Odd sizes are edge-padded to even and
    cropped back.
    """

    def __init__(self, codec: str, quality: int, width_px: int, height_px: int) -> None:
        if codec not in _VIDEO_ENCODERS:
            raise ValueError(f"video codec must be one of {', '.join(_VIDEO_ENCODERS)}; got {codec!r}")
        self.codec = codec
        self.quality = int(quality)
        self.width_px, self.height_px = int(width_px), int(height_px)
        self.coded_width_px = self.width_px + (self.width_px % 2)
        self.coded_height_px = self.height_px + (self.height_px % 2)
        self._frame_index = 0
        self._warned_no_output = False
        self._encoder = self._open_encoder()
        self._decoder = self._open_decoder()

    def _open_encoder(self) -> av.CodecContext:
        encoder_name = _VIDEO_ENCODERS[self.codec]
        try:
            encoder = av.CodecContext.create(encoder_name, "w")
        except Exception as exc:
            raise ValueError(f"codec {self.codec!r} needs the FFmpeg encoder {encoder_name!r}, which this PyAV build lacks ({exc})") from exc
        encoder.width, encoder.height = self.coded_width_px, self.coded_height_px
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = CODEC_TIME_BASE
        encoder.framerate = 1 / CODEC_TIME_BASE
        encoder.gop_size = GOP_FRAMES
        encoder.max_b_frames = 0  # no reordering: no added latency
        encoder.thread_count = 1  # frame threading would delay output; one thread is also deterministic
        if self.codec == "h264":
            encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": str(h264_crf_for_quality(self.quality))}
        else:
            # a fixed quantiser: rate control clamped to one value
            qscale = mpeg_qscale_for_quality(self.quality)
            encoder.qmin = encoder.qmax = qscale
            encoder.bit_rate = 4_000_000  # only a rate-control starting point; qmin == qmax decides
            if self.codec == "mpeg2":
                encoder.options = {"flags": "+low_delay"}  # else the decoder holds each picture back one frame
        encoder.open()
        return encoder

    def _open_decoder(self) -> av.CodecContext:
        decoder = av.CodecContext.create(_VIDEO_DECODERS[self.codec], "r")
        decoder.thread_count = 1
        decoder.options = {"flags": "+low_delay"}
        decoder.open()
        return decoder

    def matches(self, codec: str, quality: int, width_px: int, height_px: int) -> bool:
        return (codec, int(quality), int(width_px), int(height_px)) == (self.codec, self.quality, self.width_px, self.height_px)

    def round_trip(self, rgb: np.ndarray) -> np.ndarray:
        """Encode one uint8 HxWx3 RGB frame and return the decoded picture (same size)."""
        if rgb.shape[:2] != (self.height_px, self.width_px):
            raise ValueError(f"frame is {rgb.shape[1]}x{rgb.shape[0]} but this codec was opened for {self.width_px}x{self.height_px}")
        padded = rgb
        if (self.coded_width_px, self.coded_height_px) != (self.width_px, self.height_px):
            padded = cv2.copyMakeBorder(
                rgb, 0, self.coded_height_px - self.height_px, 0, self.coded_width_px - self.width_px, cv2.BORDER_REPLICATE
            )
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(padded), format="rgb24")
        frame.pts = self._frame_index
        self._frame_index += 1
        decoded = None
        for packet in self._encoder.encode(frame):
            for picture in self._decoder.decode(packet):
                decoded = picture  # with low delay there is exactly one; keep the newest if not
        if decoded is None:
            if not self._warned_no_output:
                logger.warning("%s round trip produced no picture for frame %d; passing the frame through", self.codec, frame.pts)
                self._warned_no_output = True
            return rgb
        out = decoded.to_ndarray(format="rgb24")
        if out.shape[:2] != (self.height_px, self.width_px):
            out = np.ascontiguousarray(out[: self.height_px, : self.width_px])
        return out

    def close(self) -> None:
        self._encoder = None  # type: ignore[assignment]
        self._decoder = None  # type: ignore[assignment]


class FilmLook:
    """Stateful per-frame "aged archive footage" filter over uint8 HxWx3 RGB frames."""

    def __init__(self, settings: FilmLookSettings | None = None) -> None:
        self._settings = FilmLookSettings()
        self._rng = np.random.default_rng(0)
        self._weave_state = np.zeros(2, dtype=np.float64)
        self._fade_matrix: np.ndarray | None = None
        self._grain_field: np.ndarray | None = None  # float32 unit-std noise, larger than the frame
        self._vignette_mask: np.ndarray | None = None  # uint8 HxWx3, 255 = untouched
        self._previous_frame: np.ndarray | None = None  # for interlace combing
        self._video_codec: VideoCodecRoundTrip | None = None
        self.update(settings if settings is not None else FilmLookSettings())
        self._reseed()

    @property
    def settings(self) -> FilmLookSettings:
        return dataclasses.replace(self._settings)

    def update(self, settings: FilmLookSettings) -> None:
        """Change settings between frames; only the state an edit invalidates is rebuilt."""
        settings = dataclasses.replace(settings)  # our own copy: later edits by the caller do not leak in
        settings.validate()
        old = self._settings
        self._settings = settings
        if settings.fade != old.fade or self._fade_matrix is None:
            self._fade_matrix = _fade_matrix(settings.fade)
        if settings.seed != old.seed:
            self._grain_field = None
        if settings.vignette != old.vignette:
            self._vignette_mask = None
        if not settings.interlace:
            self._previous_frame = None
        if settings.codec != old.codec or settings.quality != old.quality:
            self._close_codec()
        if settings.seed != old.seed:
            self._reseed()

    def reset(self) -> None:
        """Forget the frame history (interlace, codec references, weave) and restart the random sequence."""
        self._previous_frame = None
        self._close_codec()
        self._reseed()

    def close(self) -> None:
        """Release the codec contexts and buffers; a later apply() starts afresh."""
        self._close_codec()
        self._grain_field = None
        self._vignette_mask = None
        self._previous_frame = None

    def _reseed(self) -> None:
        self._rng = np.random.default_rng(self._settings.seed)
        self._weave_state[:] = 0.0

    def _close_codec(self) -> None:
        if self._video_codec is not None:
            self._video_codec.close()
            self._video_codec = None

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """Age one uint8 HxWx3 RGB frame; returns a new array (the input is never modified)."""
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            shape = getattr(rgb, "shape", None)
            raise ValueError(f"FilmLook.apply needs a uint8 HxWx3 RGB array, got {getattr(rgb, 'dtype', type(rgb).__name__)} {shape}")
        s = self._settings
        frame = np.ascontiguousarray(rgb)
        height_px, width_px = frame.shape[:2]

        if s.weave_px > 0.0:
            frame = self._weave(frame, s.weave_px)
        if s.fade > 0.0:
            frame = cv2.transform(frame, self._fade_matrix)
        if s.grain > 0.0:
            frame = self._add_grain(frame, s.grain)
        if s.vignette > 0.0:
            frame = cv2.multiply(frame, self._vignette(height_px, width_px, s.vignette), scale=1.0 / 255.0)
        if s.interlace:
            frame = self._comb(frame)
        bleed_px = int(round(s.chroma_bleed_px))
        if bleed_px > 0:
            frame = _chroma_bleed(frame, bleed_px)
        if s.codec == "jpeg":
            frame = jpeg_round_trip(frame, s.quality)
        elif s.codec != "none":
            codec = self._video_codec
            if codec is None or not codec.matches(s.codec, s.quality, width_px, height_px):
                self._close_codec()
                codec = self._video_codec = VideoCodecRoundTrip(s.codec, s.quality, width_px, height_px)
                logger.debug("opened %s round trip at %dx%d, quality %d", s.codec, width_px, height_px, s.quality)
            frame = codec.round_trip(frame)
        return frame.copy() if frame is rgb else frame

    # -- effects -----------------------------------------------------------

    def _weave(self, frame: np.ndarray, weave_px: float) -> np.ndarray:
        kick = self._rng.uniform(-1.0, 1.0, size=2)
        self._weave_state *= WEAVE_SMOOTHING
        self._weave_state += (1.0 - WEAVE_SMOOTHING) * kick * 2.0
        np.clip(self._weave_state, -1.0, 1.0, out=self._weave_state)
        dx_px, dy_px = self._weave_state * weave_px
        translation = np.array([[1.0, 0.0, dx_px], [0.0, 1.0, dy_px]], dtype=np.float32)
        height_px, width_px = frame.shape[:2]
        return cv2.warpAffine(frame, translation, (width_px, height_px), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def _add_grain(self, frame: np.ndarray, grain: float) -> np.ndarray:
        height_px, width_px = frame.shape[:2]
        field = self._grain_field
        if field is None or field.shape[0] < height_px + GRAIN_TILE_MARGIN_PX or field.shape[1] < width_px + GRAIN_TILE_MARGIN_PX:
            field = self._grain_field = _grain_field(
                height_px + GRAIN_TILE_MARGIN_PX, width_px + GRAIN_TILE_MARGIN_PX, self._settings.seed
            )
        top = int(self._rng.integers(0, field.shape[0] - height_px + 1))
        left = int(self._rng.integers(0, field.shape[1] - width_px + 1))
        noise = field[top : top + height_px, left : left + width_px]
        return cv2.addWeighted(frame, 1.0, cv2.merge([noise, noise, noise]), grain * GRAIN_STD_AT_FULL, 0.0, dtype=cv2.CV_8U)

    def _vignette(self, height_px: int, width_px: int, vignette: float) -> np.ndarray:
        mask = self._vignette_mask
        if mask is None or mask.shape[:2] != (height_px, width_px):
            mask = self._vignette_mask = _vignette_mask(height_px, width_px, vignette)
        return mask

    def _comb(self, frame: np.ndarray) -> np.ndarray:
        previous = self._previous_frame
        if previous is None or previous.shape != frame.shape:
            self._previous_frame = frame.copy()
            return frame
        combed = frame.copy()
        combed[1::2] = previous[1::2]
        np.copyto(previous, frame)
        return combed


def _fade_matrix(fade: float) -> np.ndarray:
    """3x4 affine for cv2.transform: desaturate, tint warm, lift blacks and dim whites."""
    desaturation = FADE_DESATURATION_AT_FULL * fade
    luma_rows = np.tile(_REC601_LUMA, (3, 1))
    mix = (1.0 - desaturation) * np.eye(3) + desaturation * luma_rows
    tint = np.diag(1.0 + fade * np.asarray(FADE_TINT_GAINS_AT_FULL))
    black = FADE_LIFTED_BLACK_AT_FULL * fade
    white = 255.0 - FADE_DIMMED_WHITE_AT_FULL * fade
    linear = (white - black) / 255.0 * (tint @ mix)
    return np.hstack([linear, np.full((3, 1), black)]).astype(np.float32)


def _grain_field(height_px: int, width_px: int, seed: int) -> np.ndarray:
    """Slightly clumped gaussian noise with unit standard deviation, float32."""
    rng = np.random.default_rng([seed, 0x6A41])  # its own stream: independent of the per-frame draws
    field = rng.standard_normal((height_px, width_px), dtype=np.float32)
    field = cv2.GaussianBlur(field, (0, 0), GRAIN_CLUMP_SIGMA_PX)
    field *= np.float32(1.0 / max(float(field.std()), 1e-6))
    return field


def _vignette_mask(height_px: int, width_px: int, vignette: float) -> np.ndarray:
    """uint8 HxWx3 multiplier (255 = 1.0): smooth fall-off, corners darkened by vignette * 75 %."""
    ys = np.linspace(-1.0, 1.0, height_px, dtype=np.float32)[:, None]
    xs = np.linspace(-1.0, 1.0, width_px, dtype=np.float32)[None, :]
    radius_sq = (xs * xs + ys * ys) * np.float32(0.5)  # 0 at the centre, 1 in the corners
    gain = 1.0 - np.float32(VIGNETTE_CORNER_DARKENING_AT_FULL * vignette) * radius_sq * radius_sq
    mask = np.clip(gain * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.merge([mask, mask, mask])


def _chroma_bleed(frame: np.ndarray, bleed_px: int) -> np.ndarray:
    """Smear colour to the right: each pixel's chroma averages the bleed_px+1 pixels to its left."""
    ycrcb = cv2.cvtColor(frame, cv2.COLOR_RGB2YCrCb)
    luma, cr, cb = cv2.split(ycrcb)
    kernel = (bleed_px + 1, 1)
    anchor = (bleed_px, 0)  # trailing window: colour lags behind, as on VHS
    cr = cv2.blur(cr, kernel, anchor=anchor, borderType=cv2.BORDER_REPLICATE)
    cb = cv2.blur(cb, kernel, anchor=anchor, borderType=cv2.BORDER_REPLICATE)
    return cv2.cvtColor(cv2.merge([luma, cr, cb]), cv2.COLOR_YCrCb2RGB)


def block_edge_energy(rgb: np.ndarray, block_px: int = 8) -> float:
    """Mean luma step across block_px-grid boundaries divided by the mean step elsewhere.

    About 1 for a clean picture; blocky compression pushes it well above 1.
    """
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    steps = np.abs(np.diff(gray, axis=1))  # steps[:, x] is between column x and x+1
    on_grid = steps[:, block_px - 1 :: block_px]
    mask = np.ones(steps.shape[1], dtype=bool)
    mask[block_px - 1 :: block_px] = False
    off_grid = steps[:, mask]
    return float(on_grid.mean() / max(float(off_grid.mean()), 1e-6))
