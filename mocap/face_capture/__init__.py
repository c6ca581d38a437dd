"""Face capture: MediaPipe face mesh (478 points with iris) -> the 52 ARKit blendshapes and head rotation.

Pure parts: `head_pose` (rigid head frame), `blendshapes` (measurements, calibration, formulas),
`face_tracker` (smoothing, poses, merging onto a body). `webcam_face_source` is the `MocapSource`.
"""
