"""Writing the demo's results: a side-by-side MP4 and a contact sheet PNG.

``SideBySideRecorder.add(input_rgb, output_rgb)`` composes one "engine | bridge"
frame (the output scaled to the input's height, both capped at
``max_height_px``, small labels burned in) and keeps it JPEG-compressed in
memory, so a 600-frame 1280x360 recording holds roughly 40-80 MB instead of
800 MB of raw pixels and ``add`` stays cheap (a resize and a JPEG encode, a few
milliseconds).  ``finish()`` then encodes the MP4 with PyAV (libx264 yuv420p when
available, otherwise mpeg4) under a temporary name and renames it into place,
and writes ``contact_sheet.png`` from ~12 evenly spaced frames.

No sockets, no threads: call ``add`` from whatever loop produces the frames.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

log = logging.getLogger(__name__)

VIDEO_NAME = "side_by_side.mp4"
CONTACT_SHEET_NAME = "contact_sheet.png"
INPUT_LABEL = "engine"
OUTPUT_LABEL = "bridge"
CODEC_PREFERENCE = ("libx264", "mpeg4")
JPEG_QUALITY = 92
CONTACT_SHEET_PAIRS = 12
CONTACT_SHEET_COLUMNS = 3
CONTACT_THUMB_HEIGHT_PX = 180
CONTACT_MARGIN_PX = 8
CONTACT_CAPTION_PX = 24


class RecorderError(RuntimeError):
    """The recorder was misused (nothing added, used after finish) or could not write its files."""


@dataclass
class DemoArtifacts:
    video_path: Path
    contact_sheet_path: Path
    frame_count: int  # frames in the MP4
    dropped_frames: int  # frames offered after max_frames was reached
    codec: str  # encoder actually used, e.g. "libx264" or "mpeg4"
    fps: float
    video_size_px: tuple[int, int]  # (width, height) of the MP4
    contact_sheet_size_px: tuple[int, int]  # (width, height) of the PNG
    contact_sheet_frames: list[int] = field(default_factory=list)  # 0-based frame numbers shown


def contact_sheet_size_px(pairs: int, pair_width_px: int, pair_height_px: int) -> tuple[int, int]:
    """(width, height) of the contact sheet for ``pairs`` cells of one side-by-side frame size."""
    if pairs < 1:
        raise ValueError(f"a contact sheet needs at least one pair, got {pairs}")
    thumb_w, thumb_h = _thumb_size_px(pair_width_px, pair_height_px)
    cols = min(CONTACT_SHEET_COLUMNS, pairs)
    rows = math.ceil(pairs / cols)
    width = cols * thumb_w + (cols + 1) * CONTACT_MARGIN_PX
    height = rows * (thumb_h + CONTACT_CAPTION_PX) + (rows + 1) * CONTACT_MARGIN_PX
    return width, height


def _thumb_size_px(pair_width_px: int, pair_height_px: int) -> tuple[int, int]:
    thumb_h = min(CONTACT_THUMB_HEIGHT_PX, pair_height_px)
    return max(2, round(pair_width_px * thumb_h / pair_height_px)), thumb_h


def _even_floor(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _as_rgb(image: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got dtype {image.dtype} with shape {image.shape}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    raise ValueError(f"{name} must be HxW, HxWx3 (RGB) or HxWx4 (RGBA), got shape {image.shape}")


def _label(image: np.ndarray, text: str, x_px: int, y_px: int, scale: float) -> None:
    """Burn ``text`` in white on a dark box whose top-left corner is (x_px, y_px)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(1, round(scale * 2))
    (tw, th), baseline = cv2.getTextSize(text, font, scale, thickness)
    pad = max(2, round(4 * scale))
    x1 = min(image.shape[1], x_px + tw + 2 * pad)
    y1 = min(image.shape[0], y_px + th + baseline + 2 * pad)
    box = image[y_px:y1, x_px:x1]
    box[...] = (box * 0.35).astype(np.uint8)
    cv2.putText(image, text, (x_px + pad, y_px + pad + th), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)


class SideBySideRecorder:
    """Collects (input, output) frame pairs and writes ``side_by_side.mp4`` and ``contact_sheet.png``."""

    def __init__(
        self,
        out_dir: Path,
        fps: float,
        max_frames: int = 600,
        *,
        max_height_px: int = 360,
        jpeg_quality: int = JPEG_QUALITY,
    ) -> None:
        fps = float(fps)
        if not (math.isfinite(fps) and 0.0 < fps <= 1000.0):
            raise ValueError(f"fps must be in (0, 1000], got {fps!r}")
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        if max_height_px < 16:
            raise ValueError(f"max_height_px must be >= 16, got {max_height_px}")
        if not 1 <= jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in [1, 100], got {jpeg_quality}")
        self.out_dir = Path(out_dir)
        self.fps = fps
        self.rate = Fraction(fps).limit_denominator(1001)
        self.max_frames = int(max_frames)
        self.max_height_px = int(max_height_px)
        self.jpeg_quality = int(jpeg_quality)
        self._frames: list[bytes] = []  # JPEG-encoded BGR side-by-side frames
        self._stored_bytes = 0
        self._geometry: tuple[int, int, int] | None = None  # (input_w, output_w, height) of each pair
        self._first_shapes: tuple[tuple[int, ...], tuple[int, ...]] | None = None
        self._warned_reshape = False
        self._dropped = 0
        self._finished = False

    @property
    def frame_count(self) -> int:
        return len(self._frames)

    @property
    def dropped_frames(self) -> int:
        return self._dropped

    @property
    def stored_bytes(self) -> int:
        """Memory held by the compressed frames so far."""
        return self._stored_bytes

    def add(self, input_rgb: np.ndarray, output_rgb: np.ndarray) -> bool:
        """Store one pair; returns False (and counts a drop) once ``max_frames`` pairs are held."""
        if self._finished:
            raise RecorderError(f"add() called after finish() on the recorder for {self.out_dir}")
        left = _as_rgb(input_rgb, "input_rgb")
        right = _as_rgb(output_rgb, "output_rgb")
        if len(self._frames) >= self.max_frames:
            if self._dropped == 0:
                log.warning("side-by-side recorder holds max_frames=%d pairs; dropping later frames", self.max_frames)
            self._dropped += 1
            return False
        if self._geometry is None:
            self._geometry = self._plan_geometry(left.shape, right.shape)
            self._first_shapes = (left.shape, right.shape)
        elif (left.shape, right.shape) != self._first_shapes and not self._warned_reshape:
            self._warned_reshape = True
            log.warning(
                "frame sizes changed from %s | %s to %s | %s; later pairs are stretched to the first pair's layout",
                self._first_shapes[0], self._first_shapes[1], left.shape, right.shape,  # type: ignore[index]
            )
        in_w, out_w, h = self._geometry
        canvas = np.empty((h, in_w + out_w, 3), np.uint8)
        canvas[:, :in_w] = self._fit(left, in_w, h)
        canvas[:, in_w:] = self._fit(right, out_w, h)
        scale = max(0.4, h / 480.0)
        margin = max(2, round(6 * scale))
        _label(canvas, INPUT_LABEL, margin, margin, scale)
        _label(canvas, OUTPUT_LABEL, in_w + margin, margin, scale)
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise RecorderError(f"JPEG encoding of frame {len(self._frames)} ({canvas.shape}) failed")
        data = jpeg.tobytes()
        self._frames.append(data)
        self._stored_bytes += len(data)
        return True

    def _plan_geometry(self, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, int, int]:
        in_h, in_w = in_shape[:2]
        out_h, out_w = out_shape[:2]
        h = _even_floor(min(in_h, self.max_height_px))
        in_slot = _even_floor(in_w * h / in_h)
        out_slot = _even_floor(out_w * h / out_h)
        log.debug("side-by-side layout: input %dx%d -> %dx%d, output %dx%d -> %dx%d", in_w, in_h, in_slot, h, out_w, out_h, out_slot, h)
        return in_slot, out_slot, h

    @staticmethod
    def _fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
        if image.shape[1] == width and image.shape[0] == height:
            return image
        shrinking = image.shape[0] > height
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)

    def _decode(self, index: int) -> np.ndarray:
        bgr = cv2.imdecode(np.frombuffer(self._frames[index], np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise RecorderError(f"stored frame {index} could not be decoded")
        return bgr

    # ------------------------------------------------------------------ finish

    def finish(self) -> DemoArtifacts:
        """Write the MP4 and the contact sheet; the recorder cannot be used afterwards."""
        if self._finished:
            raise RecorderError(f"finish() called twice on the recorder for {self.out_dir}")
        if not self._frames or self._geometry is None:
            raise RecorderError(
                f"no frames were added to the side-by-side recorder for {self.out_dir}; nothing to write "
                f"(call add(input_rgb, output_rgb) at least once before finish())"
            )
        self._finished = True
        self.out_dir.mkdir(parents=True, exist_ok=True)
        in_w, out_w, h = self._geometry
        size = (in_w + out_w, h)
        log.info(
            "writing %d side-by-side frames (%dx%d @ %s fps, %.1f MB buffered) to %s",
            len(self._frames), size[0], size[1], self.rate, self._stored_bytes / 1e6, self.out_dir,
        )
        video_path = self.out_dir / VIDEO_NAME
        codec = self._write_video(video_path, size)
        sheet_path = self.out_dir / CONTACT_SHEET_NAME
        sheet_frames, sheet_size = self._write_contact_sheet(sheet_path, size)
        artifacts = DemoArtifacts(
            video_path=video_path,
            contact_sheet_path=sheet_path,
            frame_count=len(self._frames),
            dropped_frames=self._dropped,
            codec=codec,
            fps=self.fps,
            video_size_px=size,
            contact_sheet_size_px=sheet_size,
            contact_sheet_frames=sheet_frames,
        )
        self._frames = []  # release the buffer
        self._stored_bytes = 0
        return artifacts

    def _write_video(self, final_path: Path, size: tuple[int, int]) -> str:
        candidates = [c for c in CODEC_PREFERENCE if c in av.codecs_available]
        if not candidates:
            raise RecorderError(f"PyAV {av.__version__} has none of the encoders {', '.join(CODEC_PREFERENCE)}")
        errors = []
        for codec in candidates:
            tmp_path = final_path.with_name(f".{final_path.name}.{os.getpid()}.partial")
            try:
                self._encode(tmp_path, codec, size)
            except (av.FFmpegError, ValueError, OSError) as exc:
                tmp_path.unlink(missing_ok=True)
                errors.append(f"{codec}: {exc}")
                log.warning("encoding %s with %s failed (%s); trying the next encoder", final_path.name, codec, exc)
                continue
            except BaseException:
                tmp_path.unlink(missing_ok=True)
                raise
            os.replace(tmp_path, final_path)
            log.info("wrote %s (%s, %d frames)", final_path, codec, len(self._frames))
            return codec
        raise RecorderError(f"could not encode {final_path}: " + "; ".join(errors))

    def _encode(self, path: Path, codec: str, size: tuple[int, int]) -> None:
        width, height = size
        with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream(codec, rate=self.rate)
            stream.width = width
            stream.height = height
            stream.pix_fmt = "yuv420p"  # the codec time base defaults to 1 / rate, so pts counts frames
            if codec == "libx264":
                stream.options = {"preset": "veryfast", "crf": "20"}
            else:
                stream.bit_rate = int(min(40e6, max(1e6, 0.25 * width * height * float(self.rate))))
            for index in range(len(self._frames)):
                frame = av.VideoFrame.from_ndarray(self._decode(index), format="bgr24")
                frame.pts = index
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))

    def _write_contact_sheet(self, path: Path, pair_size: tuple[int, int]) -> tuple[list[int], tuple[int, int]]:
        count = len(self._frames)
        picks = sorted({int(round(i)) for i in np.linspace(0, count - 1, min(CONTACT_SHEET_PAIRS, count))})
        sheet_w, sheet_h = contact_sheet_size_px(len(picks), *pair_size)
        thumb_w, thumb_h = _thumb_size_px(*pair_size)
        cols = min(CONTACT_SHEET_COLUMNS, len(picks))
        sheet = np.full((sheet_h, sheet_w, 3), 24, np.uint8)
        for cell, index in enumerate(picks):
            row, col = divmod(cell, cols)
            x = CONTACT_MARGIN_PX + col * (thumb_w + CONTACT_MARGIN_PX)
            y = CONTACT_MARGIN_PX + row * (thumb_h + CONTACT_CAPTION_PX + CONTACT_MARGIN_PX)
            thumb = cv2.resize(self._decode(index), (thumb_w, thumb_h), interpolation=cv2.INTER_AREA)
            sheet[y : y + thumb_h, x : x + thumb_w] = thumb
            caption = f"frame {index}  t={index / float(self.rate):.2f}s"
            cv2.putText(
                sheet, caption, (x + 2, y + thumb_h + CONTACT_CAPTION_PX - 7),
                cv2.FONT_HERSHEY_SIMPLEX, 0.5, (230, 230, 230), 1, cv2.LINE_AA,
            )
        ok, png = cv2.imencode(".png", sheet)
        if not ok:
            raise RecorderError(f"PNG encoding of the {sheet_w}x{sheet_h} contact sheet failed")
        tmp_path = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            tmp_path.write_bytes(png.tobytes())
            os.replace(tmp_path, path)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
        log.info("wrote %s (%dx%d, frames %s)", path, sheet_w, sheet_h, picks)
        return picks, (sheet_w, sheet_h)
