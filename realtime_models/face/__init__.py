"""Live face swapping: detection, 478-point meshes, tracking, alignment, swappers, masks and merge.

Pure model code over numpy arrays (no sockets, no threads):

* ``detection`` / ``landmarker`` / ``tracking``: MediaPipe's shipped face
  detector and face mesh, several faces with stable track ids, detect every N
  frames and track in between, One-Euro smoothing (``one_euro``);
* ``alignment``: ArcFace 5-point and whole-face similarity alignment, paste-back;
* ``identity``: reference photos ("micro dataset") of the person to swap in;
* swappers: ``landmark_swapper`` (no weights), ``onnx_oneshot`` (user-supplied
  inswapper-style + ArcFace ONNX models), ``dfm_swapper`` (user-supplied
  DeepFaceLive DFM model);
* ``merge`` / ``color_transfer`` / ``segmentation``: masks, occlusion,
  colour transfer, alpha and seamless blending;
* ``pipeline``: one frame through all of it.
"""
