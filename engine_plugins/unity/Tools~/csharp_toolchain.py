"""Build and run the Unity package's engine-independent C# outside Unity, with Mono.

What gets built (Unity ignores this ``Tools~`` folder):

* ``MachinimaBridge.Protocol.dll``  from ``Runtime/Protocol`` (the wire protocol, no UnityEngine)
* ``MachinimaBridge.Core.dll``      from ``Runtime/Core`` (session, conversions, pose, OSC; no UnityEngine)
* ``MachinimaBridge.Tests.dll``     from ``Tests/Editor`` (the package's NUnit tests, run by nunit-console)
* ``BridgeProbe.exe``               from ``Tests/Standalone~`` (live session over libzmq, re-encoding, benchmarks)

Toolchain (Debian): ``mono-mcs`` and ``mono-runtime`` (compiler and runtime), ``nunit-console`` and
``libnunit-cil-dev`` (NUnit 2.6, API-compatible with the subset Unity's NUnit 3 tests use), ``libzmq5``
(the probe's transport).
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


PACKAGE_DIR = Path(__file__).resolve().parent.parent
NUNIT_FRAMEWORK_CANDIDATES = (
    Path("/usr/lib/cli/nunit.framework-2.6.3/nunit.framework.dll"),
    Path("/usr/lib/mono/4.5/nunit.framework.dll"),
)
APT_PACKAGES = ("mono-mcs", "mono-runtime", "nunit-console", "libnunit-cil-dev", "libzmq5")


class CSharpBuildError(RuntimeError):
    """mcs refused a source set; the message holds the compiler output."""


@dataclass
class Toolchain:
    mcs: str | None
    mono: str | None
    nunit_console: str | None
    nunit_framework: Path | None
    libzmq: str | None
    missing: list[str] = field(default_factory=list)

    @property
    def can_compile(self) -> bool:
        return self.mcs is not None and self.mono is not None

    @property
    def can_run_nunit(self) -> bool:
        return self.can_compile and self.nunit_console is not None and self.nunit_framework is not None

    @property
    def can_run_live(self) -> bool:
        return self.can_compile and self.libzmq is not None


def find_toolchain() -> Toolchain:
    framework = next((p for p in NUNIT_FRAMEWORK_CANDIDATES if p.is_file()), None)
    libzmq = ctypes.util.find_library("zmq")
    tc = Toolchain(
        mcs=shutil.which("mcs"), mono=shutil.which("mono"), nunit_console=shutil.which("nunit-console"),
        nunit_framework=framework, libzmq=libzmq,
    )
    for name, present, package in (
        ("mcs", tc.mcs, "mono-mcs"), ("mono", tc.mono, "mono-runtime"),
        ("nunit-console", tc.nunit_console, "nunit-console"), ("nunit.framework.dll", tc.nunit_framework, "libnunit-cil-dev"),
        ("libzmq.so.5", tc.libzmq, "libzmq5"),
    ):
        if not present:
            tc.missing.append(f"{name} (Debian package {package})")
    return tc


@dataclass
class BuildOutputs:
    folder: Path
    protocol_dll: Path
    core_dll: Path
    tests_dll: Path | None
    probe_exe: Path


def _sources(folder: Path) -> list[str]:
    files = sorted(str(p) for p in folder.glob("*.cs"))
    if not files:
        raise CSharpBuildError(f"no C# sources in {folder}")
    return files


def _compile(tc: Toolchain, target: str, out: Path, sources: list[str], references: list[Path]) -> Path:
    cmd = [tc.mcs, f"-target:{target}", "-warnaserror+", "-debug-", "-optimize+", f"-out:{out}",
           *(f"-r:{r}" for r in references), *sources]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise CSharpBuildError(f"mcs failed building {out.name} (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return out


def build(out_dir: Path, tc: Toolchain | None = None, *, with_tests: bool = True) -> BuildOutputs:
    """Compile everything into ``out_dir`` with warnings as errors; raises CSharpBuildError with mcs's output."""
    tc = tc or find_toolchain()
    if not tc.can_compile:
        raise CSharpBuildError("Mono is missing: " + ", ".join(tc.missing))
    out_dir.mkdir(parents=True, exist_ok=True)
    protocol = _compile(tc, "library", out_dir / "MachinimaBridge.Protocol.dll",
                        _sources(PACKAGE_DIR / "Runtime" / "Protocol"), [])
    core = _compile(tc, "library", out_dir / "MachinimaBridge.Core.dll",
                    _sources(PACKAGE_DIR / "Runtime" / "Core"), [protocol])
    tests = None
    if with_tests and tc.nunit_framework is not None:
        tests = _compile(tc, "library", out_dir / "MachinimaBridge.Tests.dll",
                         _sources(PACKAGE_DIR / "Tests" / "Editor"), [protocol, core, tc.nunit_framework])
    probe = _compile(tc, "exe", out_dir / "BridgeProbe.exe",
                     _sources(PACKAGE_DIR / "Tests" / "Standalone~"), [protocol, core])
    return BuildOutputs(out_dir, protocol, core, tests, probe)


def probe_command(tc: Toolchain, outputs: BuildOutputs, *args: str) -> list[str]:
    return [tc.mono, str(outputs.probe_exe), *args]


def run_probe(tc: Toolchain, outputs: BuildOutputs, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(probe_command(tc, outputs, *args), capture_output=True, text=True, timeout=timeout_s,
                          cwd=outputs.folder)


def run_nunit(tc: Toolchain, outputs: BuildOutputs, vectors_dir: Path, xml_path: Path,
              timeout_s: float = 120) -> subprocess.CompletedProcess:
    if outputs.tests_dll is None or not tc.can_run_nunit:
        raise CSharpBuildError("NUnit is missing: " + ", ".join(tc.missing))
    env = {**os.environ, "MACHINIMA_BRIDGE_VECTORS": str(vectors_dir)}
    return subprocess.run([tc.nunit_console, "-nologo", str(outputs.tests_dll), f"-xml={xml_path}"],
                          capture_output=True, text=True, timeout=timeout_s, cwd=outputs.folder, env=env)
