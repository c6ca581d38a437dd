"""Checking a user-supplied ONNX model's inputs and outputs against a documented contract.

Shapes from onnxruntime hold ints for fixed dimensions and strings or None
for dynamic ones.  A fixed dimension must equal the contract's; a dynamic one
is accepted (the model is then run with the contract's size).  Every mismatch
raises :class:`ModelFileError` naming the file, what the contract expects and
what the model has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from realtime_models.onnx_runtime_session import ModelFileError, describe_io

FLOAT_TYPE = "tensor(float)"


def shape_text(shape: Sequence[Any]) -> str:
    """``[1, 3, 112, 112]``; dynamic dimensions show their name, or ``?`` when they have none."""
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def dims_match(actual: Sequence[Any], expected: Sequence[int | None]) -> bool:
    """``expected`` None entries accept anything (e.g. the batch); ints must match fixed dims."""
    if len(actual) != len(expected):
        return False
    return all(e is None or not isinstance(a, int) or a == e for a, e in zip(actual, expected))


def find_input(session: Any, name: str, path: Path, what: str) -> Any:
    for node in session.get_inputs():
        if node.name == name:
            return node
    raise ModelFileError(path, what, f"it has no input named {name!r}; it has {describe_io(session)}")


def find_output(session: Any, name: str, path: Path, what: str) -> Any:
    for node in session.get_outputs():
        if node.name == name:
            return node
    raise ModelFileError(path, what, f"it has no output named {name!r}; it has {describe_io(session)}")


def check_tensor(node: Any, expected: Sequence[int | None], path: Path, what: str, role: str,
                 layout: str = "") -> None:
    """Type float32 and shape matching ``expected`` (None = any), else ModelFileError."""
    if node.type != FLOAT_TYPE:
        raise ModelFileError(path, what, f"{role} {node.name!r} is {node.type}, expected float32")
    if not dims_match(list(node.shape), expected):
        want = shape_text([e if e is not None else "N" for e in expected])
        raise ModelFileError(
            path, what, f"{role} {node.name!r} has shape {shape_text(node.shape)}, expected {want}"
            + (f" ({layout})" if layout else "")
        )


def check_run_output(value: Any, expected: Sequence[int], path: Path, what: str, role: str) -> None:
    """The shape a model actually produced (dynamic outputs are only known after a run)."""
    if tuple(value.shape) != tuple(expected):
        raise ModelFileError(path, what, f"{role} came out with shape {list(value.shape)}, expected {list(expected)}")
