"""`machinima-bridge mocap webcam --video FILE`: markerless capture of a real photo of a person, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

pytest.importorskip("mediapipe")
pytestmark = pytest.mark.timeout(120)


def test_webcam_command_tracks_the_person_in_a_video(tmp_path: Path):
    person = cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR)  # CC0 photo of a standing man
    video = tmp_path / "person.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, (640, 480))
    for i in range(45):
        shift = 30.0 * np.sin(2 * np.pi * i / 45)
        matrix = np.array([[0.85, 0, 320 + shift - 256 * 0.85], [0, 0.85, 250 - 256 * 0.85]], np.float32)
        writer.write(cv2.warpAffine(person, matrix, (640, 480), borderValue=(128, 128, 128)))
    writer.release()
    proc = subprocess.run([sys.executable, "-m", "bridge", "mocap", "webcam", "--video", str(video), "--loop",
                           "--performer", "actor-1", "--seconds", "4"], capture_output=True, text=True, timeout=100)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if "actor-1" in line]
    assert rows, proc.stdout
    poses = int(rows[-1].split()[2])
    assert poses >= 5  # several frames of the video became poses
