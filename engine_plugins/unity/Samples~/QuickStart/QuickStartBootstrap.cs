// Quick Start: builds a small scene in code (so it works in any render pipeline and project) and
// wires every part of the package together:
//   a set (floor, spinning columns) and an "actor" (a capsule on the actor layer),
//   a camera with StreamCamera (colour + linear depth + actor mask + camera pose, 960x540 @ 30),
//   a BridgeConnection to tcp://127.0.0.1:5555, a StylizedOutput drawing RESULTs full screen,
//   a BridgeControl driven by the on-screen buttons (style, strength) of the default pipeline.
// Start the server first: `make demo` once to install, then `.venv/bin/machinima-bridge serve`.
using MachinimaBridge;
using MachinimaBridge.Core;
using UnityEngine;

namespace MachinimaBridge.Samples
{
    [AddComponentMenu("Machinima Bridge/Samples/Quick Start Bootstrap")]
    public sealed class QuickStartBootstrap : MonoBehaviour
    {
        public string endpoint = "tcp://127.0.0.1:5555";
        [Tooltip("An empty layer used for the actor mask (8..31).")]
        [Range(8, 31)] public int actorLayer = 8;
        public int width = 960;
        public int height = 540;

        private BridgeConnection _connection;
        private BridgeControl _control;
        private StylizedOutput _output;
        private Transform _set;
        private Transform _actor;
        private float _strength = 1f;
        private string _lastAck = "";

        private void Awake()
        {
            BuildScene();
            var bridge = new GameObject("Bridge");
            _connection = bridge.AddComponent<BridgeConnection>();
            _connection.endpoint = endpoint;
            _connection.sessionName = "quick-start";

            // Configure the StreamCamera before it is enabled: OnEnable creates its textures.
            Camera cam = CreateCamera();
            cam.gameObject.SetActive(false);
            var stream = cam.gameObject.AddComponent<StreamCamera>();
            stream.connection = _connection;
            stream.streamId = 0;
            stream.streamName = "quick-start camera";
            stream.width = width;
            stream.height = height;
            stream.captureFps = 30f;
            stream.depth = DepthPlaneFormat.F16;
            stream.sendActorMask = true;
            stream.actorLayers = 1 << actorLayer;
            cam.gameObject.SetActive(true);

            _output = bridge.AddComponent<StylizedOutput>();
            _output.connection = _connection;
            _output.streamId = 0;
            _output.fullscreen = true;

            _control = bridge.AddComponent<BridgeControl>();
            _control.connection = _connection;
            _control.streamId = 0;
        }

        private void OnEnable()
        {
            if (_control != null) _control.onAck.AddListener(OnAck);
        }

        private void OnDisable()
        {
            if (_control != null) _control.onAck.RemoveListener(OnAck);
        }

        private void OnAck(bool ok, string detail)
        {
            _lastAck = (ok ? "applied " : "refused: ") + detail;
        }

        private Camera CreateCamera()
        {
            var go = new GameObject("Stream Camera");
            go.transform.position = new Vector3(0f, 1.6f, -6f);
            go.transform.rotation = Quaternion.Euler(8f, 0f, 0f);
            var cam = go.AddComponent<Camera>();
            cam.fieldOfView = 50f;
            cam.nearClipPlane = 0.1f;
            cam.farClipPlane = 200f;
            cam.clearFlags = CameraClearFlags.Skybox;
            return cam;
        }

        private void BuildScene()
        {
            var light = new GameObject("Sun").AddComponent<Light>();
            light.type = LightType.Directional;
            light.transform.rotation = Quaternion.Euler(45f, -30f, 0f);

            GameObject floor = GameObject.CreatePrimitive(PrimitiveType.Plane);
            floor.name = "Floor";
            floor.transform.localScale = new Vector3(3f, 1f, 3f);

            _set = new GameObject("Set").transform;
            for (int i = 0; i < 8; i++)
            {
                GameObject column = GameObject.CreatePrimitive(PrimitiveType.Cube);
                float angle = i * Mathf.PI / 4f;
                column.transform.SetParent(_set, false);
                column.transform.localPosition = new Vector3(Mathf.Cos(angle) * 5f, 1.5f, Mathf.Sin(angle) * 5f + 4f);
                column.transform.localScale = new Vector3(0.6f, 3f, 0.6f);
            }

            GameObject actor = GameObject.CreatePrimitive(PrimitiveType.Capsule);
            actor.name = "Actor";
            actor.layer = actorLayer;
            actor.transform.position = new Vector3(0f, 1f, 0f);
            _actor = actor.transform;
        }

        private void Update()
        {
            _set.Rotate(0f, 20f * Time.deltaTime, 0f, Space.World);
            _actor.position = new Vector3(Mathf.Sin(Time.time) * 1.5f, 1f, 0f);
        }

        private void OnGUI()
        {
            GUILayout.BeginArea(new Rect(10, 10, 330, 300), GUI.skin.box);
            BridgeSession session = _connection.Session;
            GUILayout.Label("Bridge: " + (session == null ? "not connected" : session.State + " (" + endpoint + ")"));
            if (session != null && session.State == SessionState.Welcomed)
            {
                StreamCountersSnapshot s = session.Counters(0).Snapshot(MonotonicClock.NowNs());
                GUILayout.Label(string.Format("fps {0:0.0} -> {1:0.0}   round trip p50 {2:0.0} ms p95 {3:0.0} ms",
                                              s.SentFps, s.ResultFps, s.RttMsP50, s.RttMsP95));
                GUILayout.Label("dropped: server " + s.ServerDropped + ", here " + s.LocalDrops);
            }
            else if (session != null && !string.IsNullOrEmpty(session.LastError))
            {
                GUILayout.Label(session.LastError);
            }
            GUILayout.Label("Style (stage 'stylize' of the default pipeline):");
            GUILayout.BeginHorizontal();
            foreach (int style in new[] { 19, 12, 3, 7 })
            {
                if (GUILayout.Button(style.ToString())) _control.SetInt("stylize", "style", style);
            }
            GUILayout.EndHorizontal();
            GUILayout.Label("Strength " + _strength.ToString("0.00"));
            float strength = GUILayout.HorizontalSlider(_strength, 0f, 1f);
            if (Mathf.Abs(strength - _strength) > 0.01f)
            {
                _strength = strength;
                _control.SetFloat("stylize", "strength", _strength, 150f);
            }
            GUILayout.Label(_lastAck);
            GUILayout.EndArea();
        }
    }
}
