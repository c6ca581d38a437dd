"""The identity to swap in: one or more reference photos of a person (a "micro dataset").

An identity source is one of

* a folder of photos (``.jpg .jpeg .png .bmp .webp .tif .tiff``): every photo
  with a face becomes a reference; photos without one are skipped (logged);
* a single photo;
* ``sample:grace_hopper`` (matplotlib's public-domain sample portrait) or
  ``sample:astronaut`` (scikit-image's), so the stage works out of the box.

Each reference keeps the face's neighbourhood (scaled so the face is at most
``max_face_px``), its 478-point mesh and a pose signature.  For the
``landmark`` swapper the reference whose pose/expression is nearest to the
performer's is chosen every frame (with hysteresis so it does not flicker
between two near-equal references).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from realtime_models.face.landmarker import PhotoLandmarker
from realtime_models.face.mesh_topology import POSE_POINTS, bounding_box, face_size_px, head_pose_deg

log = logging.getLogger(__name__)

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
SAMPLE_PREFIX = "sample:"
SAMPLE_NAMES = ("grace_hopper", "astronaut")
_POSE_IDX = np.array(POSE_POINTS)


class IdentityError(Exception):
    """An identity source is missing, unreadable or shows no face; the message names the path."""


def sample_photo(name: str) -> np.ndarray:
    """One of the public-domain portraits shipped inside installed packages, as RGB uint8."""
    if name == "grace_hopper":
        from matplotlib import cbook

        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        return read_photo(Path(str(path)))
    if name == "astronaut":
        from skimage import data

        return np.ascontiguousarray(data.astronaut())
    raise IdentityError(f"unknown sample identity {name!r} (samples: {', '.join(SAMPLE_NAMES)})")


def read_photo(path: Path) -> np.ndarray:
    """A photo file as RGB uint8 (EXIF orientation applied)."""
    if not path.is_file():
        raise IdentityError(f"identity photo not found: {path}")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise IdentityError(f"{path}: not a readable picture (tried {', '.join(PHOTO_SUFFIXES)} formats)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def check_identity_source(source: str) -> str:
    """Cheap validation (no model run): the path exists / the sample is known.  Returns the source."""
    source = source.strip()
    if not source:
        raise IdentityError("empty identity source")
    if source.startswith(SAMPLE_PREFIX):
        name = source[len(SAMPLE_PREFIX):]
        if name not in SAMPLE_NAMES:
            raise IdentityError(f"unknown sample identity {name!r} (samples: {', '.join(SAMPLE_NAMES)})")
        return source
    path = Path(source)
    if path.is_dir():
        if not _photos_in(path):
            raise IdentityError(f"identity folder {path} has no photos ({', '.join(PHOTO_SUFFIXES)})")
        return source
    if path.is_file():
        if path.suffix.lower() not in PHOTO_SUFFIXES:
            raise IdentityError(f"identity photo {path} is not one of {', '.join(PHOTO_SUFFIXES)}")
        return source
    raise IdentityError(f"identity source not found: {path} (give a photo, a folder of photos or sample:NAME)")


def _photos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)


def pose_signature(landmarks: np.ndarray) -> np.ndarray:
    """The pose/expression points centred and scaled to unit norm (rotation removed when comparing)."""
    pts = landmarks[_POSE_IDX, :2].astype(np.float64)
    pts -= pts.mean(axis=0)
    return pts / (np.linalg.norm(pts) + 1e-12)


def pose_distances(signature: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Procrustes distances (in-plane rotation removed) of one signature to a stack of them (K, P, 2)."""
    cross = np.einsum("kpi,pj->kij", references, signature)  # (K, 2, 2)
    singular = np.linalg.svd(cross, compute_uv=False)
    det = np.linalg.det(cross)
    # the best proper rotation: flip the smaller singular value's sign when the fit would mirror
    corr = singular[:, 0] + np.where(det < 0, -singular[:, 1], singular[:, 1])
    return np.sqrt(np.maximum(0.0, 2.0 - 2.0 * corr))


@dataclass
class ReferenceFace:
    source: str
    image: np.ndarray  # RGB uint8, the face's neighbourhood
    landmarks_px: np.ndarray  # mesh in ``image`` pixels, (468|478, 3)
    pose_deg: tuple[float, float, float]
    signature: np.ndarray
    triangulations: dict[int, np.ndarray] = field(default_factory=dict)  # point count -> (T, 3)


@dataclass
class Identity:
    source: str
    faces: list[ReferenceFace]
    _signatures: np.ndarray | None = None

    @property
    def signatures(self) -> np.ndarray:
        if self._signatures is None:
            self._signatures = np.stack([f.signature for f in self.faces])
        return self._signatures

    def best_reference(self, performer_landmarks: np.ndarray, current: int | None = None,
                       switch_margin: float = 0.15) -> int:
        """Index of the reference nearest in pose/expression; stays on ``current`` unless another is
        better by more than ``switch_margin`` (a fraction of the current distance)."""
        if len(self.faces) == 1:
            return 0
        dist = pose_distances(pose_signature(performer_landmarks), self.signatures)
        best = int(np.argmin(dist))
        if current is not None and 0 <= current < len(dist) and best != current:
            if dist[best] > dist[current] * (1.0 - switch_margin):
                return current
        return best


def reference_from_photo(rgb: np.ndarray, landmarks: np.ndarray, source: str, margin: float = 0.35,
                         max_face_px: int = 512) -> ReferenceFace:
    """Cut the face's neighbourhood out of a photo (scaled so the face is at most ``max_face_px``)."""
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = bounding_box(landmarks)
    pad_x, pad_y = (x1 - x0) * margin, (y1 - y0) * margin
    cx0, cy0 = max(0, int(x0 - pad_x)), max(0, int(y0 - pad_y))
    cx1, cy1 = min(width, int(np.ceil(x1 + pad_x))), min(height, int(np.ceil(y1 + pad_y)))
    crop = rgb[cy0:cy1, cx0:cx1]
    pts = landmarks.astype(np.float32).copy()
    pts[:, 0] -= cx0
    pts[:, 1] -= cy0
    scale = min(1.0, max_face_px / face_size_px(pts))
    if scale < 1.0:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
        pts *= scale
    return ReferenceFace(source, np.ascontiguousarray(crop), pts, head_pose_deg(pts), pose_signature(pts))


def load_identity(source: str, landmarker: PhotoLandmarker | None = None) -> Identity:
    """All reference faces of one identity source (the largest face of each photo)."""
    source = check_identity_source(source)
    own = landmarker is None
    landmarker = landmarker or PhotoLandmarker(max_faces=4, refine_landmarks=True)
    try:
        if source.startswith(SAMPLE_PREFIX):
            photos: list[tuple[str, np.ndarray]] = [(source, sample_photo(source[len(SAMPLE_PREFIX):]))]
        else:
            path = Path(source)
            files = _photos_in(path) if path.is_dir() else [path]
            photos = []
            for file in files:
                try:
                    photos.append((str(file), read_photo(file)))
                except IdentityError as exc:
                    log.warning("skipping identity photo: %s", exc)
        faces: list[ReferenceFace] = []
        for name, rgb in photos:
            meshes = landmarker.meshes(rgb)
            if not meshes:
                log.warning("identity photo %s: no face found, skipped", name)
                continue
            faces.append(reference_from_photo(rgb, meshes[0], name))
    finally:
        if own:
            landmarker.close()
    if not faces:
        tried = ", ".join(name for name, _ in photos) or "no readable photo"
        raise IdentityError(f"identity {source}: no face found in any photo (tried: {tried})")
    log.info("identity %s: %d reference face(s)", source, len(faces))
    return Identity(source, faces)


def parse_identity_list(text: str) -> list[str]:
    """``"a.jpg; folder/b ; sample:grace_hopper"`` -> the validated sources, in order."""
    sources = [s.strip() for s in text.split(";") if s.strip()]
    if not sources:
        raise IdentityError("no identity given (a photo, a folder of photos or sample:NAME; several separated by ';')")
    return [check_identity_source(s) for s in sources]
