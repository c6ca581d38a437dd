"""Live-controllable stage parameters: declared specs, validation with reasons, and glides.

Each stage declares its parameters as ``ParamSpec``s.  ``StageParams`` holds the
current values; it is written by the control path (CONTROL messages, OSC) and
read by the stage's worker thread between frames.  An update is all-or-nothing:
every value is checked first, and if one is rejected none is applied and the
old values stay.  Numeric parameters (and numeric vectors such as a style
blend) can glide from the old to the new value over ``glide_ms``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from bridge.protocol.errors import ErrorCode

PARAM_KINDS = ("float", "int", "bool", "choice", "str", "floats")


class ParamError(Exception):
    """A parameter update was rejected; ``code`` is UNKNOWN_PARAM or BAD_PARAM_VALUE."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: its kind, default, range or choices, and whether it may change live."""

    name: str
    kind: str
    default: Any
    doc: str = ""
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None
    length: int | None = None  # for "floats"
    live: bool = True  # False: only settable in the pipeline config
    optional: bool = False  # None is an allowed value
    check: Callable[[Any], Any] | None = None  # extra validation/normalisation; raises ValueError
    glide: bool = True  # numeric kinds glide unless the stage cannot follow a moving value

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"param {self.name}: kind {self.kind!r} is not one of {PARAM_KINDS}")

    @property
    def glides(self) -> bool:
        return self.glide and self.kind in ("float", "floats")

    def coerce(self, value: Any) -> Any:
        """Return the value in canonical form or raise ParamError naming the cause."""
        where = f"parameter {self.name!r}"
        if value is None and self.optional:
            return None
        try:
            out = self._coerce_kind(value, where)
            if self.check is not None:
                out = self.check(out)
        except ParamError:
            raise
        except (ValueError, TypeError, OSError, ArithmeticError) as exc:
            raise ParamError(ErrorCode.BAD_PARAM_VALUE, f"{where}: {exc}") from None
        return out

    def _coerce_kind(self, value: Any, where: str) -> Any:
        bad = lambda what: ParamError(ErrorCode.BAD_PARAM_VALUE, f"{where} must be {what}, got {value!r}")  # noqa: E731
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, (int, float)) and value in (0, 1):  # OSC faders and toggles send 0/1
                return bool(value)
            raise bad("true or false (or 0/1)")
        if self.kind in ("float", "int"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad("a finite number")
            if self.kind == "int":
                if float(value) != int(value):
                    raise bad("a whole number")
                value = int(value)
            else:
                value = float(value)
            self._check_range(value, where)
            return value
        if self.kind == "choice":
            if not isinstance(value, str) or value not in (self.choices or ()):
                raise bad(f"one of {', '.join(self.choices or ())}")
            return value
        if self.kind == "str":
            if not isinstance(value, str):
                raise bad("a string")
            return value
        # floats
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value
        ):
            raise bad("an array of finite numbers")
        if self.length is not None and len(value) != self.length:
            raise ParamError(
                ErrorCode.BAD_PARAM_VALUE, f"{where} needs {self.length} numbers, got {len(value)}"
            )
        values = [float(x) for x in value]
        for x in values:
            self._check_range(x, where)
        return values

    def _check_range(self, value: float, where: str) -> None:
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise ParamError(
                ErrorCode.BAD_PARAM_VALUE, f"{where} = {value} is outside {self.lo}..{self.hi}"
            )

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "default": self.default, "live": self.live}
        if self.lo is not None or self.hi is not None:
            out["range"] = [self.lo, self.hi]
        if self.choices:
            out["choices"] = list(self.choices)
        if self.length is not None:
            out["length"] = self.length
        out["doc"] = self.doc
        return out


@dataclass
class _Glide:
    start: Any
    end: Any
    t0_ns: int
    duration_ns: int

    def value_at(self, now_ns: int) -> tuple[Any, bool]:
        u = 1.0 if self.duration_ns <= 0 else (now_ns - self.t0_ns) / self.duration_ns
        if u >= 1.0:
            return self.end, True
        u = max(0.0, u)
        u = u * u * (3.0 - 2.0 * u)  # smoothstep: no visible jolt at either end
        if isinstance(self.end, list):
            return [a + (b - a) * u for a, b in zip(self.start, self.end)], False
        return self.start + (self.end - self.start) * u, False


@dataclass
class StageParams:
    """Current parameter values of one stage instance; safe to use from several threads."""

    specs: Mapping[str, ParamSpec]
    _values: dict[str, Any] = field(default_factory=dict)
    _glides: dict[str, _Glide] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    version: int = 0

    @classmethod
    def build(cls, specs: Iterable[ParamSpec], initial: Mapping[str, Any] | None = None,
              stage: str = "stage") -> StageParams:
        """Defaults overridden by ``initial`` (from the pipeline config); errors name the stage."""
        table = {s.name: s for s in specs}
        params = cls(specs=table)
        for spec in table.values():
            params._values[spec.name] = spec.default
        for name, value in (initial or {}).items():
            spec = table.get(name)
            if spec is None:
                raise ParamError(
                    ErrorCode.UNKNOWN_PARAM,
                    f"stage {stage!r} has no parameter {name!r} (has: {', '.join(sorted(table))})",
                )
            try:
                params._values[name] = spec.coerce(value)
            except ParamError as exc:
                raise ParamError(exc.code, f"stage {stage!r}: {exc.message}") from None
        return params

    def validate(self, updates: Mapping[str, Any], *, live: bool = True) -> dict[str, Any]:
        """Check every update; returns canonical values or raises on the first bad one."""
        checked: dict[str, Any] = {}
        for name, value in updates.items():
            spec = self.specs.get(name)
            if spec is None:
                raise ParamError(
                    ErrorCode.UNKNOWN_PARAM,
                    f"unknown parameter {name!r} (known: {', '.join(sorted(self.specs))})",
                )
            if live and not spec.live:
                raise ParamError(
                    ErrorCode.BAD_PARAM_VALUE,
                    f"parameter {name!r} is fixed when the pipeline starts; change it in the pipeline config",
                )
            checked[name] = spec.coerce(value)
        return checked

    def update(self, updates: Mapping[str, Any], glide_ms: float | None = None,
               now_ns: int | None = None) -> dict[str, Any]:
        """Validate then apply all updates atomically; returns the applied (target) values."""
        checked = self.validate(updates)
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        with self._lock:
            for name, value in checked.items():
                spec = self.specs[name]
                if glide_ms and glide_ms > 0 and spec.glides and value is not None:
                    start, _ = self._current_locked(name, now_ns)
                    if start is not None and (not isinstance(start, list) or len(start) == len(value)):
                        self._glides[name] = _Glide(start, value, now_ns, int(glide_ms * 1e6))
                        self._values[name] = value
                        continue
                self._glides.pop(name, None)
                self._values[name] = value
            self.version += 1
        return checked

    def _current_locked(self, name: str, now_ns: int) -> tuple[Any, bool]:
        glide = self._glides.get(name)
        if glide is None:
            return self._values[name], True
        value, done = glide.value_at(now_ns)
        if done:
            del self._glides[name]
        return value, done

    def get(self, name: str, now_ns: int | None = None) -> Any:
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        with self._lock:
            return self._current_locked(name, now_ns)[0]

    def snapshot(self, now_ns: int | None = None) -> dict[str, Any]:
        """All current values (glides evaluated at ``now_ns``)."""
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        with self._lock:
            return {name: self._current_locked(name, now_ns)[0] for name in self.specs}

    @property
    def gliding(self) -> bool:
        with self._lock:
            return bool(self._glides)
