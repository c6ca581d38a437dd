"""Opening onnxruntime sessions for the live pipeline's model wrappers.

One place decides which execution providers a model runs on and how a model
file is opened, so every wrapper fails the same way: a missing or broken model
file raises :class:`ModelFileError` naming the path, and an execution provider
that this onnxruntime build cannot serve raises ``ValueError`` naming the ones
it can.

onnxruntime silently falls back to the CPU when, for example, the CUDA
libraries fail to load at session creation; :func:`open_session` compares the
providers it asked for with the ones the session actually uses and logs a
warning when they differ.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import onnxruntime

logger = logging.getLogger(__name__)

TENSORRT_PROVIDER = "TensorrtExecutionProvider"
CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"

# What each device name asks for, best first; CPU always ends the list so a
# node the accelerator cannot run still has somewhere to go.
_PROVIDERS_BY_DEVICE: dict[str, tuple[str, ...]] = {
    "cpu": (CPU_PROVIDER,),
    "cuda": (CUDA_PROVIDER, CPU_PROVIDER),
    "tensorrt": (TENSORRT_PROVIDER, CUDA_PROVIDER, CPU_PROVIDER),
}
DEVICE_NAMES: tuple[str, ...] = ("auto", *_PROVIDERS_BY_DEVICE)

ProvidersLike = str | Sequence[str] | None


class ModelFileError(Exception):
    """A model file (or model folder) is missing, unreadable or not what was expected.

    The message names the path and what was expected there; ``path`` holds it.
    """

    def __init__(self, path: str | os.PathLike[str], expected: str, cause: str | None = None) -> None:
        self.path = Path(path)
        self.expected = expected
        self.cause = cause
        message = f"{self.path}: expected {expected}"
        if cause:
            message += f" ({cause})"
        super().__init__(message)


def available_providers() -> list[str]:
    """The execution providers this onnxruntime build offers."""
    return list(onnxruntime.get_available_providers())


def resolve_providers(requested: str = "auto") -> list[str]:
    """Map a device name to an ordered onnxruntime provider list.

    ``"auto"`` takes TensorRT and CUDA where this build has them, then the CPU.
    ``"cpu"``, ``"cuda"`` and ``"tensorrt"`` are explicit requests: one this
    build cannot serve raises ``ValueError`` naming the providers it has.
    """
    if not isinstance(requested, str):
        raise TypeError(f"device must be a string, one of {', '.join(DEVICE_NAMES)}; got {type(requested).__name__}")
    device = requested.strip().lower()
    available = available_providers()
    if device == "auto":
        chosen = [p for p in (TENSORRT_PROVIDER, CUDA_PROVIDER) if p in available]
        return [*chosen, CPU_PROVIDER]
    if device not in _PROVIDERS_BY_DEVICE:
        raise ValueError(f"unknown device {requested!r}; use one of {', '.join(DEVICE_NAMES)}")
    wanted = _PROVIDERS_BY_DEVICE[device]
    if wanted[0] not in available:
        raise ValueError(
            f"device {requested!r} needs {wanted[0]}, which this onnxruntime build "
            f"(onnxruntime {onnxruntime.__version__}) does not offer; available: {', '.join(available)}"
        )
    # tensorrt: keep CUDA as the second choice only where the build has it
    return [p for p in wanted if p in available or p == CPU_PROVIDER]


def _provider_list(providers: ProvidersLike) -> list[str]:
    if providers is None:
        return resolve_providers("auto")
    if isinstance(providers, str):
        if providers.endswith("ExecutionProvider"):
            return [providers]
        return resolve_providers(providers)
    result = [str(p) for p in providers]
    if not result:
        raise ValueError("providers must not be empty; pass None or 'auto' to choose automatically")
    available = available_providers()
    missing = [p for p in result if p not in available]
    if missing:
        raise ValueError(
            f"execution provider(s) {', '.join(missing)} not offered by this onnxruntime build; "
            f"available: {', '.join(available)}"
        )
    return result


def open_session(
    path: str | os.PathLike[str],
    providers: ProvidersLike = None,
    intra_op_threads: int | None = None,
    *,
    allow_spinning: bool = False,
) -> onnxruntime.InferenceSession:
    """Open an ONNX model for inference.

    ``providers`` is a device name (see :func:`resolve_providers`), an explicit
    list of onnxruntime provider names, or ``None`` for ``"auto"``.
    ``intra_op_threads`` caps the threads one inference uses (``None``: the
    onnxruntime default, one per core). ``allow_spinning`` lets idle worker
    threads busy-wait for work; it is off by default because the live pipeline
    shares a few cores between several stages and spinning threads steal them.

    Raises :class:`ModelFileError` when the file is missing or is not a
    loadable ONNX model, ``ValueError`` for bad providers or thread counts.
    """
    model_path = Path(path)
    provider_list = _provider_list(providers)
    if intra_op_threads is not None and (isinstance(intra_op_threads, bool) or int(intra_op_threads) < 1):
        raise ValueError(f"intra_op_threads must be a positive integer or None, got {intra_op_threads!r}")
    if not model_path.exists():
        raise ModelFileError(model_path, "an ONNX model file", "no such file")
    if not model_path.is_file():
        raise ModelFileError(model_path, "an ONNX model file", "it is not a regular file")

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only; we log what matters ourselves
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if intra_op_threads is not None:
        options.intra_op_num_threads = int(intra_op_threads)
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")

    try:
        session = onnxruntime.InferenceSession(str(model_path), options, providers=provider_list)
    except Exception as exc:  # onnxruntime raises its own pybind exception types
        cause = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else 'no detail'}"
        raise ModelFileError(model_path, "a valid ONNX model file", cause) from exc

    active = session.get_providers()
    fell_back = [p for p in provider_list if p not in active]
    if fell_back:
        logger.warning(
            "%s: asked for %s but onnxruntime runs it on %s (%s could not start)",
            model_path.name, ", ".join(provider_list), ", ".join(active), ", ".join(fell_back),
        )
    else:
        logger.info("%s: running on %s", model_path.name, ", ".join(active))
    return session


def describe_io(session: onnxruntime.InferenceSession) -> str:
    """One line naming a session's inputs and outputs with shapes and types, for error messages."""
    inputs = ", ".join(f"{i.name} {i.type} {i.shape}" for i in session.get_inputs())
    outputs = ", ".join(f"{o.name} {o.type} {o.shape}" for o in session.get_outputs())
    return f"inputs [{inputs}] -> outputs [{outputs}]"
