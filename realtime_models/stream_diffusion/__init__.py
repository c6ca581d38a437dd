"""Streaming img2img diffusion (StreamDiffusion family): pure model code over torch tensors.

Modules, one concept each (nothing here imports ``bridge``, opens sockets or starts threads):

* ``model_loading``        local diffusers folders / single-file checkpoints, TAESD, ControlNet, LoRA
* ``schedule``             LCM schedule table; strength -> ``t_index_list``
* ``stream_diffusion``     the algorithm: stream batch, residual CFG, LCM steps (pure tensor math)
* ``diffusion_stream``     one live stream: host frames in/out, schedules, conditioning, steadiness
* ``similarity_filter``    stochastic similarity filter (host thumbnails, no device sync)
* ``prompt_travel``        prompt encoding cache, weighted prompts, slerp of embeddings and noise
* ``keyframe_schedule``    Deforum-style ``"0: a, 48: b"`` schedules
* ``feedback_transform``   zoom / rotate / translate of the previous output (dream sequences)
* ``temporal_steadiness``  motion-aware latent blend and noise damping
* ``control_conditioning`` depth plane -> ControlNet depth image; 2D skeleton -> OpenPose picture
* ``backend``              the backend Protocol, the torch backend, call timing, backend comparison
* ``onnx_export``          ONNX export (opset 17, dynamic shapes) and its manifest
* ``onnxruntime_backend``  exported graphs on ONNX Runtime (CPU / CUDA / TensorRT EP)
* ``engine_cache``         TensorRT engine cache keys
* ``tensorrt_backend``     TensorRT engines: build, cache, run, CUDA graphs (GPU only)
* ``stream_builder``       files + backend choice -> a ready ``DiffusionStream``
* ``tiny_models``          tiny random SD-family models written as real local folders (tests, CPU bench)

Heavy imports (diffusers, transformers) happen inside these modules, so
importing the package itself is cheap.
"""
