// Captures a Camera's picture (and optionally linear depth and an actor mask) at a chosen
// resolution and rate and sends it as FRAMEs, without ever stalling the render thread:
// every plane comes back through AsyncGPUReadback, whose callback copies the rows (flipping
// them to the wire's top-down order) and, once a capture's planes are all in, submits the
// FRAME. At most maxReadbacksInFlight captures wait on the GPU; a tick finding that many
// waiting is skipped (counted), never queued.
//
// Colour: the camera renders into the capture RenderTexture (or, optionally, its screen image
// is copied into it). Depth: Unity's depth texture linearised to eye-space metres by the plane
// shader (+Infinity for sky). Mask: the actor layers rendered by a hidden helper camera onto a
// transparent background; coverage is the alpha. Built-in pipeline: command buffers on the
// camera; scriptable pipelines (URP/HDRP): RenderPipelineManager.endCameraRendering (URP needs
// "Depth Texture" on for depth).
using System;
using System.Collections.Generic;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;
using Unity.Collections;
using UnityEngine;
using UnityEngine.Rendering;

namespace MachinimaBridge
{
    public enum ColorPlaneFormat
    {
        RGBA8,
        BGRA8,
        RGB8,
    }

    public enum DepthPlaneFormat
    {
        None,
        F16,
        F32,
    }

    [RequireComponent(typeof(Camera))]
    [AddComponentMenu("Machinima Bridge/Stream Camera")]
    public sealed class StreamCamera : MonoBehaviour
    {
        [Tooltip("The connection that sends this stream; empty: the first BridgeConnection in the scene.")]
        public BridgeConnection connection;

        [Tooltip("Stream id (0..65535), unique per connection; CONTROL and RESULT name it.")]
        public int streamId;

        [Tooltip("Name shown in server logs and STATS; empty: this GameObject's name.")]
        public string streamName = "";

        [Tooltip("Server pipeline to run (its config name); empty: the server's default.")]
        public string pipeline = "";

        [Range(16, 4096)] public int width = 1280;
        [Range(16, 4096)] public int height = 720;

        [Tooltip("Frames per second sent (also the nominal fps declared in HELLO).")]
        [Range(1, 240)] public float captureFps = 30f;

        public ColorPlaneFormat colorFormat = ColorPlaneFormat.RGBA8;
        public DepthPlaneFormat depth = DepthPlaneFormat.None;

        [Tooltip("Send a U8 mask plane: 255 where the actor layers cover the picture.")]
        public bool sendActorMask;
        public LayerMask actorLayers;

        [Tooltip("Send the camera's pose and pinhole intrinsics with every FRAME (perspective cameras).")]
        public bool sendCameraPose = true;
        public bool sendTimecode = true;

        [Tooltip("The camera renders into the capture texture (the screen then shows the StylizedOutput). Off: the camera's screen image is copied (scaled) into it.")]
        public bool renderIntoCaptureTexture = true;

        [Tooltip("GPU readbacks of Unity render textures start with the bottom row; the wire wants the top row first.")]
        public bool readbackIsBottomUp = true;

        [Range(1, 8)] public int maxReadbacksInFlight = 3;

        // what the inspector shows
        public long FramesCaptured { get; private set; }
        public long FramesSubmitted { get; private set; }
        public long TicksSkippedGpuBusy { get; private set; }
        public long ReadbackErrors { get; private set; }
        public int ReadbacksInFlight { get { return _pending.Count; } }
        public string LastProblem { get; private set; }

        private Camera _camera;
        private Camera _maskCamera;
        private RenderTexture _colorTarget;
        private RenderTexture _depthTarget;
        private RenderTexture _maskColorTarget;
        private RenderTexture _maskTarget;
        private Material _planeMaterial;
        private CommandBuffer _commands;
        private bool _builtInPipeline;
        private bool _armed;
        private double _nextCaptureTime;
        private double _startTime;
        private long _nextIndex;
        private readonly List<PendingCapture> _pending = new List<PendingCapture>();
        private RenderTexture _previousTarget;

        private const int DepthPass = 0;
        private const int MaskPass = 1;

        public BridgeConnection Connection
        {
            get
            {
                if (connection == null) connection = FindObjectOfType<BridgeConnection>();
                return connection;
            }
        }

        /// <summary>The HELLO declaration of this stream.</summary>
        public StreamDeclaration BuildDeclaration()
        {
            return new StreamDeclaration
            {
                Id = streamId,
                Name = string.IsNullOrEmpty(streamName) ? gameObject.name : streamName,
                Width = width,
                Height = height,
                ColorFormat = colorFormat.ToString(),
                DepthFormat = depth == DepthPlaneFormat.None ? null : depth.ToString(),
                Mask = sendActorMask,
                Fps = captureFps,
                Pipeline = string.IsNullOrEmpty(pipeline) ? null : pipeline,
            };
        }

        private sealed class PendingCapture
        {
            public Frame Frame;
            public Plane[] Planes = new Plane[3];
            public int Expected;
            public int Arrived;
            public bool Failed;
            public float StartedAt;
            public int Width;
            public int Height;
        }

        private void OnEnable()
        {
            _camera = GetComponent<Camera>();
            if (!SystemInfo.supportsAsyncGPUReadback)
            {
                LastProblem = "this platform has no AsyncGPUReadback: StreamCamera cannot capture without stalling, so it does not";
                Debug.LogError("[machinima-bridge] " + LastProblem, this);
                enabled = false;
                return;
            }
            _builtInPipeline = GraphicsSettings.currentRenderPipeline == null;
            CreateTargets();
            _commands = new CommandBuffer { name = "machinima-bridge capture" };
            if (_builtInPipeline) _camera.AddCommandBuffer(CameraEvent.AfterEverything, _commands);
            else RenderPipelineManager.endCameraRendering += OnEndCameraRendering;
            _startTime = Time.unscaledTimeAsDouble;
            _nextCaptureTime = _startTime;
        }

        private void OnDisable()
        {
            if (_camera != null && _commands != null)
            {
                if (_builtInPipeline) _camera.RemoveCommandBuffer(CameraEvent.AfterEverything, _commands);
                else RenderPipelineManager.endCameraRendering -= OnEndCameraRendering;
            }
            if (_commands != null) _commands.Release();
            _commands = null;
            _pending.Clear(); // readbacks still in flight find their capture gone and are ignored
            ReleaseTargets();
        }

        private void CreateTargets()
        {
            _colorTarget = new RenderTexture(width, height, 24, RenderTextureFormat.ARGB32) { name = "machinima-bridge colour" };
            _colorTarget.Create();
            if (renderIntoCaptureTexture)
            {
                _previousTarget = _camera.targetTexture;
                _camera.targetTexture = _colorTarget;
            }
            if (depth != DepthPlaneFormat.None || sendActorMask)
            {
                Shader shader = Shader.Find("Hidden/MachinimaBridge/Planes");
                if (shader == null) throw new InvalidOperationException("shader Hidden/MachinimaBridge/Planes is missing from the package's Runtime/Resources");
                _planeMaterial = new Material(shader) { hideFlags = HideFlags.HideAndDontSave };
            }
            if (depth != DepthPlaneFormat.None)
            {
                _camera.depthTextureMode |= DepthTextureMode.Depth;
                var format = depth == DepthPlaneFormat.F32 ? RenderTextureFormat.RFloat : RenderTextureFormat.RHalf;
                _depthTarget = new RenderTexture(width, height, 0, format) { name = "machinima-bridge depth" };
                _depthTarget.Create();
            }
            if (sendActorMask)
            {
                _maskColorTarget = new RenderTexture(width, height, 24, RenderTextureFormat.ARGB32) { name = "machinima-bridge actor" };
                _maskTarget = new RenderTexture(width, height, 0, RenderTextureFormat.R8) { name = "machinima-bridge mask" };
                _maskColorTarget.Create();
                _maskTarget.Create();
                var helper = new GameObject("machinima-bridge mask camera") { hideFlags = HideFlags.HideAndDontSave };
                helper.transform.SetParent(transform, false);
                _maskCamera = helper.AddComponent<Camera>();
                _maskCamera.enabled = false;
            }
        }

        private void ReleaseTargets()
        {
            if (_camera != null && renderIntoCaptureTexture && _camera.targetTexture == _colorTarget) _camera.targetTexture = _previousTarget;
            foreach (RenderTexture rt in new[] { _colorTarget, _depthTarget, _maskColorTarget, _maskTarget })
            {
                if (rt != null)
                {
                    rt.Release();
                    Destroy(rt);
                }
            }
            _colorTarget = _depthTarget = _maskColorTarget = _maskTarget = null;
            if (_maskCamera != null) Destroy(_maskCamera.gameObject);
            if (_planeMaterial != null) Destroy(_planeMaterial);
        }

        /// <summary>The colour readback format for the declared wire format.</summary>
        private TextureFormat ColorReadbackFormat()
        {
            switch (colorFormat)
            {
                case ColorPlaneFormat.BGRA8: return TextureFormat.BGRA32;
                case ColorPlaneFormat.RGB8: return TextureFormat.RGB24;
                default: return TextureFormat.RGBA32;
            }
        }

        private void LateUpdate()
        {
            DropStaleCaptures();
            BridgeConnection conn = Connection;
            if (conn == null || conn.Session == null || conn.Session.State != SessionState.Welcomed) return;
            double now = Time.unscaledTimeAsDouble;
            if (now < _nextCaptureTime) return;
            _nextCaptureTime = Math.Max(_nextCaptureTime + 1.0 / captureFps, now - 0.5 / captureFps);
            if (_pending.Count >= maxReadbacksInFlight)
            {
                TicksSkippedGpuBusy++;
                return;
            }
            PendingCapture capture = StartCapture(now);
            _pending.Add(capture);
            RecordCaptureCommands(capture);
            if (sendActorMask) CaptureMask(capture);
        }

        private PendingCapture StartCapture(double now)
        {
            var frame = new Frame { Stream = streamId, Index = _nextIndex++, TCaptureNs = MonotonicClock.NowNs() };
            if (sendTimecode) frame.Timecode = SmpteTimecode.FromSeconds(now - _startTime, Mathf.Max(1, Mathf.RoundToInt(captureFps)));
            if (sendCameraPose && !_camera.orthographic)
            {
                frame.Camera = new CameraInfo
                {
                    WorldFromCamera = CameraConventions.WorldFromCamera(UnityConvert.ToVec3d(transform.position), UnityConvert.ToQuatd(transform.rotation)),
                    IntrinsicsPx = CameraConventions.IntrinsicsFromVerticalFov(_camera.fieldOfView, width, height),
                    NearM = _camera.nearClipPlane,
                    FarM = _camera.farClipPlane,
                };
            }
            FramesCaptured++;
            return new PendingCapture
            {
                Frame = frame,
                Expected = 1 + (depth != DepthPlaneFormat.None ? 1 : 0) + (sendActorMask ? 1 : 0),
                StartedAt = Time.unscaledTime,
                Width = _colorTarget.width,
                Height = _colorTarget.height,
            };
        }

        /// <summary>Commands run right after the camera renders this frame: copy colour, linearise depth, read both back.</summary>
        private void RecordCaptureCommands(PendingCapture capture)
        {
            _commands.Clear();
            if (!renderIntoCaptureTexture) _commands.Blit(BuiltinRenderTextureType.CameraTarget, _colorTarget);
            _commands.RequestAsyncReadback(_colorTarget, 0, ColorReadbackFormat(),
                request => OnPlaneRead(request, capture, 0, PlaneKinds.Color, colorFormat.ToString()));
            if (depth != DepthPlaneFormat.None)
            {
                _commands.Blit((Texture)null, _depthTarget, _planeMaterial, DepthPass);
                _commands.RequestAsyncReadback(_depthTarget, 0, depth == DepthPlaneFormat.F32 ? TextureFormat.RFloat : TextureFormat.RHalf,
                    request => OnPlaneRead(request, capture, 1, PlaneKinds.Depth, depth.ToString()));
            }
            _armed = true; // built-in: the camera runs the buffer at AfterEverything; SRP: OnEndCameraRendering does
        }

        private void OnEndCameraRendering(ScriptableRenderContext context, Camera rendered)
        {
            if (rendered != _camera || !_armed) return;
            context.ExecuteCommandBuffer(_commands);
            context.Submit();
            _commands.Clear();
            _armed = false;
        }

        private void OnPreCull()
        {
            // Built-in pipeline: a buffer recorded in an earlier frame must not run again.
            if (_builtInPipeline && !_armed && _commands != null) _commands.Clear();
            _armed = false;
        }

        private void CaptureMask(PendingCapture capture)
        {
            _maskCamera.CopyFrom(_camera);
            _maskCamera.targetTexture = _maskColorTarget;
            _maskCamera.cullingMask = actorLayers;
            _maskCamera.clearFlags = CameraClearFlags.SolidColor;
            _maskCamera.backgroundColor = new Color(0, 0, 0, 0);
            _maskCamera.allowHDR = false;
            _maskCamera.depthTextureMode = DepthTextureMode.None;
            _maskCamera.Render();
            Graphics.Blit(_maskColorTarget, _maskTarget, _planeMaterial, MaskPass);
            AsyncGPUReadback.Request(_maskTarget, 0, TextureFormat.R8,
                request => OnPlaneRead(request, capture, 2, PlaneKinds.Mask, PixelFormats.U8));
        }

        private void OnPlaneRead(AsyncGPUReadbackRequest request, PendingCapture capture, int slot, string kind, string format)
        {
            if (!_pending.Contains(capture) || capture.Failed) return;
            if (request.hasError)
            {
                ReadbackErrors++;
                LastProblem = kind + " readback failed";
                capture.Failed = true;
                _pending.Remove(capture);
                return;
            }
            int width = capture.Width, height = capture.Height;
            PlaneDescriptor descriptor = PlaneDescriptor.Packed(kind, format, width, height);
            NativeArray<byte> data = request.GetData<byte>();
            int rowBytes = descriptor.RowBytes;
            if (data.Length < rowBytes * height)
            {
                ReadbackErrors++;
                LastProblem = kind + " readback returned " + data.Length + " bytes, expected " + rowBytes * height;
                capture.Failed = true;
                _pending.Remove(capture);
                return;
            }
            var bytes = new byte[rowBytes * height];
            for (int row = 0; row < height; row++)
            {
                int source = readbackIsBottomUp ? height - 1 - row : row;
                NativeArray<byte>.Copy(data, source * rowBytes, bytes, row * rowBytes, rowBytes);
            }
            capture.Planes[slot] = new Plane(descriptor, bytes);
            capture.Arrived++;
            if (capture.Arrived < capture.Expected) return;
            _pending.Remove(capture);
            foreach (Plane p in capture.Planes)
            {
                if (p != null) capture.Frame.Planes.Add(p); // colour, depth, mask: the order senders should use
            }
            BridgeConnection conn = Connection;
            if (conn != null && conn.SubmitFrame(capture.Frame)) FramesSubmitted++;
        }

        private void DropStaleCaptures()
        {
            for (int i = _pending.Count - 1; i >= 0; i--)
            {
                if (Time.unscaledTime - _pending[i].StartedAt > 2f)
                {
                    LastProblem = "a capture's readbacks did not all arrive within 2 s";
                    _pending.RemoveAt(i);
                }
            }
        }

        private void OnValidate()
        {
            streamId = Mathf.Clamp(streamId, 0, 65535);
        }
    }
}
