"""Markerless body capture from a webcam or a video file with MediaPipe's shipped pose (and hand) models.

Pure parts (arrays in, arrays out): `landmarks` (indices, the one MediaPipe -> canonical conversion),
`bone_solver`, `confidence_hold`, `one_euro`, `root_motion`, `rotation_math`, `body_tracker`;
`benchmark` measures them (`benchmarks/bench_markerless.py`). The model wrappers are in
`mediapipe_runtime`; the capture loop and the `MocapSource` are in `video_capture` and `webcam_source`.
"""
