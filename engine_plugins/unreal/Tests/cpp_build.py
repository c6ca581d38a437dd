"""Build the Unreal plugin's engine-independent C++ (Protocol/, Transport/) and its test programs with g++.

Used by ``tests/integration/test_unreal_cpp_protocol.py`` and ``benchmarks/bench_cpp_client.py``;
also runnable by hand::

    python engine_plugins/unreal/Tests/cpp_build.py OUT_DIR [-O2]

Protocol/ is compiled as Unreal compiles module code (no exceptions, no RTTI) with every warning an
error, including shadowing and narrowing conversions; Transport/ uses cppzmq, which needs exceptions
(the plugin's Build.cs enables them for the module).  Objects compile in parallel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parents[1]
MODULE_DIR = PLUGIN_DIR / "Source" / "MachinimaBridge"
TESTS_DIR = PLUGIN_DIR / "Tests"
COMPILER = "g++"

# -Wshadow, -Wconversion and -Wundef stand in for the MSVC warnings Unreal treats as errors.
WARNINGS = ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wconversion", "-Wundef", "-pedantic"]
INCLUDES = [f"-I{MODULE_DIR / 'Public'}", f"-I{MODULE_DIR / 'Private'}", f"-I{TESTS_DIR}"]
# As the engine builds modules: no exceptions, no RTTI.
PROTOCOL_FLAGS = [*WARNINGS, "-fno-exceptions", "-fno-rtti"]
TRANSPORT_FLAGS = [*WARNINGS, "-pthread"]


class CppBuildError(RuntimeError):
    """g++ rejected a file; the message holds the command and the compiler's output."""


@dataclass(frozen=True)
class CppPrograms:
    vectors_test: Path | None
    live_client: Path | None


def protocol_sources() -> list[Path]:
    return sorted((MODULE_DIR / "Private" / "Protocol").glob("*.cpp"))


def transport_sources() -> list[Path]:
    return sorted((MODULE_DIR / "Private" / "Transport").glob("*.cpp"))


def _probe(code: str, *, link: bool, out_dir: Path) -> subprocess.CompletedProcess:
    source = out_dir / "probe.cpp"
    source.write_text(code, encoding="utf-8")
    cmd = [COMPILER, "-std=c++17", str(source), "-o", str(out_dir / "probe")]
    cmd += ["-lzmq"] if link else ["-fsyntax-only"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def missing_toolchain(out_dir: Path, *, need_zmq: bool) -> str | None:
    """Why the programs cannot be built here (naming the missing tool and its Debian package), or None."""
    if shutil.which(COMPILER) is None:
        return f"{COMPILER} not found on PATH (Debian: apt-get install -y g++)"
    if not need_zmq:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    if _probe("#include <zmq.h>\nint main() { return 0; }\n", link=False, out_dir=out_dir).returncode:
        return "libzmq headers (zmq.h) not found (Debian: apt-get install -y libzmq3-dev)"
    if _probe("#include <zmq.hpp>\nint main() { return 0; }\n", link=False, out_dir=out_dir).returncode:
        return "cppzmq header zmq.hpp not found (Debian: apt-get install -y cppzmq-dev)"
    probe = _probe("#include <zmq.h>\nint main() { int a, b, c; zmq_version(&a, &b, &c); return 0; }\n",
                   link=True, out_dir=out_dir)
    if probe.returncode:
        return f"cannot link against libzmq (-lzmq): {probe.stderr.strip()[:300]}"
    return None


def _compile(source: Path, obj: Path, flags: list[str], optimize: str) -> None:
    cmd = [COMPILER, *flags, optimize, *INCLUDES, "-c", str(source), "-o", str(obj)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise CppBuildError(f"{' '.join(cmd)}\nfailed with exit status {proc.returncode}:\n{proc.stderr}")


def _link(objects: list[Path], exe: Path, libs: list[str]) -> None:
    cmd = [COMPILER, *map(str, objects), "-o", str(exe), *libs]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise CppBuildError(f"{' '.join(cmd)}\nfailed with exit status {proc.returncode}:\n{proc.stderr}")


def build(out_dir: Path, *, vectors_test: bool = True, live_client: bool = True, optimize: str = "-O1",
          jobs: int | None = None) -> CppPrograms:
    """Compile into ``out_dir``; raises CppBuildError with g++'s output when anything fails to build."""
    out_dir.mkdir(parents=True, exist_ok=True)
    units: list[tuple[Path, list[str]]] = [(src, PROTOCOL_FLAGS) for src in protocol_sources()]
    if vectors_test:
        units.append((TESTS_DIR / "protocol_vectors_test.cpp", PROTOCOL_FLAGS))
    if live_client:
        units += [(src, TRANSPORT_FLAGS) for src in transport_sources()]
        units.append((TESTS_DIR / "live_session_client.cpp", TRANSPORT_FLAGS))
    objects = {src: out_dir / f"{src.parent.name}_{src.stem}.o" for src, _ in units}
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        futures = [pool.submit(_compile, src, objects[src], flags, optimize) for src, flags in units]
        errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise CppBuildError("\n\n".join(str(e) for e in errors))
    protocol_objects = [objects[src] for src in protocol_sources()]
    vectors_exe = live_exe = None
    if vectors_test:
        vectors_exe = out_dir / "protocol_vectors_test"
        _link([*protocol_objects, objects[TESTS_DIR / "protocol_vectors_test.cpp"]], vectors_exe, [])
    if live_client:
        live_exe = out_dir / "live_session_client"
        transport_objects = [objects[src] for src in transport_sources()]
        _link([*protocol_objects, *transport_objects, objects[TESTS_DIR / "live_session_client.cpp"]], live_exe,
              ["-lzmq", "-pthread"])
    return CppPrograms(vectors_test=vectors_exe, live_client=live_exe)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("build/unreal_cpp")
    level = sys.argv[2] if len(sys.argv) > 2 else "-O2"
    reason = missing_toolchain(target, need_zmq=True)
    if reason:
        print(f"cannot build: {reason}", file=sys.stderr)
        sys.exit(2)
    programs = build(target, optimize=level)
    print(f"built {programs.vectors_test} and {programs.live_client}")
