// One engine connection to the machinima-bridge server: a NetMQ DEALER run by a BridgeSession on
// a background thread (HELLO, heartbeats, reconnects, BYE). Streams come from the StreamCamera
// components that point at this connection (with the audio format of an AudioStreamSender that
// belongs to one). Server messages are handed to the game thread:
// the newest RESULT per stream for StylizedOutput, everything else through the events below,
// raised from Update. Disabling the component says BYE and never waits more than half a second.
// With the capability "session" (joinSharedSession, or a TakeRecorderControl using this
// connection), the server's take state is followed: CurrentTakeState and TakeStateChanged.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;
using UnityEngine;

namespace MachinimaBridge
{
    [DisallowMultipleComponent]
    [DefaultExecutionOrder(-50)]
    [AddComponentMenu("Machinima Bridge/Bridge Connection")]
    public sealed class BridgeConnection : MonoBehaviour, IBridgeSessionListener
    {
        public const string PackageVersion = "0.1.0";

        [Tooltip("ZeroMQ endpoint of the server, e.g. tcp://127.0.0.1:5555 (ipc:// where NetMQ supports it).")]
        public string endpoint = "tcp://127.0.0.1:5555";

        [Tooltip("Session (take) name; engines in one session share mocap.")]
        public string sessionName = "default";

        [Tooltip("Heartbeat interval proposed in HELLO; the server's WELCOME decides.")]
        [Range(10, 10000)] public int heartbeatMs = 1000;

        [Tooltip("How long to wait for WELCOME before retrying: pipelines may load models first.")]
        [Range(1000, 600000)] public int welcomeTimeoutMs = 60000;

        [Tooltip("Ask the server to relay other engines' MOCAP poses to this engine (capability \"mocap\"). On automatically when a MocapReceiver uses this connection.")]
        public bool receiveMocap;

        [Tooltip("Join the session's shared world (capability \"session\"): member join/leave events, the shared key-value state and the server's take state. On automatically when a TakeRecorderControl uses this connection.")]
        public bool joinSharedSession;

        [Tooltip("Frames queued in the socket at most; beyond that new frames are dropped (latest wins).")]
        [Range(1, 16)] public int sendQueueFrames = 4;

        /// <summary>Raised on the game thread when the server accepts the HELLO.</summary>
        public event Action<Welcome> Welcomed;
        public event Action<ControlAck> ControlAcknowledged;
        public event Action<Stats> StatsReceived;
        public event Action<Protocol.Error> ErrorReceived;
        public event Action<Mocap> MocapReceived;
        /// <summary>SESSION events (snapshot, join, leave) when joinSharedSession is on.</summary>
        public event Action<SessionEvent> SessionEventReceived;
        /// <summary>A change of the shared state as the server applied it (by any engine of the session, this one included).</summary>
        public event Action<StateChange> SharedStateChanged;
        public event Action<SessionState, string> ConnectionStateChanged;
        /// <summary>The outcome of every StartTake / StopTake of this connection (also raised when a request was lost).</summary>
        public event Action<TakeAck> TakeAcknowledged;
        /// <summary>
        /// The server's take state changed: a take started or stopped, whoever started it (this engine,
        /// another, the CLI, OSC), or the snapshot after a (re)connect told it. Needs the capability
        /// "session" (joinSharedSession, or a TakeRecorderControl using this connection).
        /// </summary>
        public event Action<TakeState> TakeStateChanged;

        /// <summary>The server's take state as last reported on the game thread; null before the server said anything.</summary>
        public TakeState CurrentTakeState { get; private set; }

        /// <summary>The session's shared key-value state as last reported (game thread; needs joinSharedSession).</summary>
        public MsgPackMap SharedState { get { return _sharedState; } }

        /// <summary>Engines in the shared session (engine_id -> engine name), kept from SESSION events.</summary>
        public IDictionary<string, string> SessionMembers { get { return _members; } }

        private MsgPackMap _sharedState = new MsgPackMap();
        private readonly Dictionary<string, string> _members = new Dictionary<string, string>();

        private readonly ConcurrentQueue<BridgeMessage> _inbox = new ConcurrentQueue<BridgeMessage>();
        private readonly ConcurrentQueue<KeyValuePair<SessionState, string>> _states = new ConcurrentQueue<KeyValuePair<SessionState, string>>();
        private readonly ConcurrentQueue<TakeAck> _takeAcks = new ConcurrentQueue<TakeAck>();
        private readonly ConcurrentQueue<TakeState> _takeStates = new ConcurrentQueue<TakeState>();
        private readonly Dictionary<long, Result> _latestResults = new Dictionary<long, Result>();
        private readonly Dictionary<long, long> _resultsOverwritten = new Dictionary<long, long>();
        private readonly object _resultsLock = new object();
        private NetMqTransport _transport;
        private BridgeSession _session;
        private BridgeWorker _worker;
        private List<StreamCamera> _cameras = new List<StreamCamera>();

        /// <summary>The running session (null before Start or after disable): state, welcome, per-stream counters.</summary>
        public BridgeSession Session { get { return _session; } }

        public IList<StreamCamera> Cameras { get { return _cameras; } }

        private bool _started;

        private void Start()
        {
            _started = true;
            Connect();
        }

        private void OnEnable()
        {
            // Start() connects the first time; enabling the component again reconnects.
            if (_started) Connect();
        }

        /// <summary>(Re)build the HELLO from the StreamCameras using this connection and open a new session.</summary>
        public void Connect()
        {
            Disconnect("reconnecting with new settings");
            _cameras = new List<StreamCamera>();
            foreach (StreamCamera cam in FindObjectsOfType<StreamCamera>())
            {
                if (cam.isActiveAndEnabled && cam.Connection == this) _cameras.Add(cam);
            }
            _cameras.Sort((a, b) => a.streamId.CompareTo(b.streamId));
            bool wantsMocap = receiveMocap;
            foreach (MocapReceiver r in FindObjectsOfType<MocapReceiver>())
            {
                if (r.isActiveAndEnabled && r.connection == this) wantsMocap = true;
            }
            // A TakeRecorderControl shows the server's take state, which only "session" engines hear.
            bool wantsSession = joinSharedSession;
            foreach (TakeRecorderControl t in FindObjectsOfType<TakeRecorderControl>())
            {
                if (t.isActiveAndEnabled && t.connection == this) wantsSession = true;
            }
            var options = new BridgeSessionOptions
            {
                Endpoint = endpoint,
                Engine = "Unity " + Application.unityVersion,
                Client = "machinima-bridge-unity/" + PackageVersion + " (" + Application.platform + ")",
                Session = sessionName,
                HeartbeatMs = heartbeatMs,
                WelcomeTimeoutMs = welcomeTimeoutMs,
            };
            var capabilities = new HashSet<string>();
            var audioSenders = new List<AudioStreamSender>();
            foreach (AudioStreamSender sender in FindObjectsOfType<AudioStreamSender>())
            {
                if (sender.isActiveAndEnabled) audioSenders.Add(sender);
            }
            foreach (StreamCamera cam in _cameras)
            {
                StreamDeclaration declaration = cam.BuildDeclaration();
                foreach (AudioStreamSender sender in audioSenders)
                {
                    if (sender.streamCamera != cam) continue;
                    if (declaration.Audio != null)
                    {
                        Debug.LogWarning("[machinima-bridge] stream " + cam.streamId + " has more than one AudioStreamSender; "
                                         + sender.name + " is ignored", sender);
                        continue;
                    }
                    declaration.Audio = sender.BuildFormat();
                    capabilities.Add("audio");
                }
                options.Streams.Add(declaration);
                if (declaration.DepthFormat != null) capabilities.Add("depth");
                if (declaration.Mask) capabilities.Add("mask");
                if (cam.sendCameraPose) capabilities.Add("camera");
            }
            if (wantsMocap) capabilities.Add("mocap");
            if (wantsSession) capabilities.Add(BridgeSession.SessionCapability);
            options.Capabilities.AddRange(capabilities);
            try
            {
                _transport = new NetMqTransport(sendQueueFrames);
                _session = new BridgeSession(_transport, options, this);
                _session.TakeAcknowledged += _takeAcks.Enqueue; // worker thread -> Update
                _session.TakeStateChanged += _takeStates.Enqueue;
            }
            catch (ArgumentException e)
            {
                Debug.LogError("[machinima-bridge] " + name + ": " + e.Message, this);
                if (_transport != null) _transport.Dispose();
                _transport = null;
                _session = null;
                return;
            }
            _worker = new BridgeWorker(_session, _transport);
            _worker.Start();
        }

        /// <summary>Say BYE and close; waits at most half a second for the session thread.</summary>
        public void Disconnect(string reason)
        {
            if (_worker != null)
            {
                _worker.Stop(reason, 500);
                _worker = null;
            }
            if (_transport != null)
            {
                _transport.Dispose();
                _transport = null;
            }
            _session = null;
            lock (_resultsLock) _latestResults.Clear();
        }

        private void OnDisable()
        {
            Disconnect("Unity: " + name + " disabled");
        }

        private void OnApplicationQuit()
        {
            Disconnect("Unity: application quit");
        }

        // ---------------------------------------------------------------- engine -> server

        /// <summary>Offer a captured frame; false when it was not taken (not welcomed, undeclared stream).</summary>
        public bool SubmitFrame(Frame frame)
        {
            BridgeSession s = _session;
            return s != null && s.SubmitFrame(frame);
        }

        /// <summary>Queue a CONTROL for <paramref name="stream"/>; returns its request_id, or -1 when not connected.</summary>
        public long SendControl(long stream, string stage, MsgPackMap parameters, double? glideMs = null)
        {
            BridgeSession s = _session;
            return s == null ? -1 : s.SubmitControl(stream, stage, parameters, glideMs);
        }

        /// <summary>
        /// Start recording a take on the server (every engine's streams, controls, mocap and sound),
        /// named <paramref name="name"/> or, when null, take-YYYYMMDD-HHMMSS. Returns the request_id
        /// that <see cref="TakeAcknowledged"/> reports on, or -1 when not connected. Throws
        /// ArgumentException for a name the server would refuse (TakeControl.NameProblem says why).
        /// Works without any StreamCamera too (the CONTROL then goes on stream 0).
        /// </summary>
        public long StartTake(string name = null)
        {
            BridgeSession s = _session;
            return s == null ? -1 : s.StartTake(name);
        }

        /// <summary>Stop the take the server is recording (whoever started it); -1 when not connected.</summary>
        public long StopTake()
        {
            BridgeSession s = _session;
            return s == null ? -1 : s.StopTake();
        }

        public void RequestStats()
        {
            BridgeSession s = _session;
            if (s != null) s.SubmitStatsRequest();
        }

        /// <summary>
        /// Any thread: queue one AUDIO chunk of a stream declared with audio (interleaved s16, at most one
        /// second, first sample at <paramref name="tCaptureNs"/> on MonotonicClock). Returns the chunk index,
        /// or -1 when it was dropped (not connected, queue full). AudioStreamSender does this for you.
        /// </summary>
        public long SendAudio(long stream, long tCaptureNs, short[] interleaved, int sampleRateHz, int channels)
        {
            BridgeSession s = _session;
            return s == null ? -1 : s.SubmitAudio(stream, tCaptureNs, interleaved, sampleRateHz, channels);
        }

        public void SendMocap(Mocap pose)
        {
            BridgeSession s = _session;
            if (s != null) s.SubmitMessage(pose);
        }

        /// <summary>Set a key of the session's shared state (any msgpack value but binary, at most 16384 bytes encoded).</summary>
        public void SetSharedState(string key, MsgPackValue value)
        {
            SubmitState(new StateChange { Key = key, Op = StateChange.OpSet, Value = value });
        }

        /// <summary>Set a key to a bool, int, long, float, double, string or array of numbers.</summary>
        public void SetSharedState(string key, object value)
        {
            SetSharedState(key, ControlParams.ToValue(key, value));
        }

        public void DeleteSharedState(string key)
        {
            SubmitState(new StateChange { Key = key, Op = StateChange.OpDelete });
        }

        private void SubmitState(StateChange change)
        {
            try
            {
                MessageCodec.Parse(MessageCodec.Serialize(change)); // the server's checks, with their reasons
            }
            catch (ProtocolException e)
            {
                throw new ArgumentException("invalid STATE change: " + e.Detail, e);
            }
            BridgeSession s = _session;
            if (s != null) s.SubmitMessage(change);
        }

        /// <summary>The newest RESULT of a stream not yet taken, and how many were overwritten unseen since the last take.</summary>
        public bool TryTakeLatestResult(long stream, out Result result, out long overwritten)
        {
            lock (_resultsLock)
            {
                overwritten = 0;
                if (!_latestResults.TryGetValue(stream, out result)) return false;
                _latestResults.Remove(stream);
                _resultsOverwritten.TryGetValue(stream, out overwritten);
                _resultsOverwritten[stream] = 0;
                return true;
            }
        }

        // ---------------------------------------------------------------- worker thread -> game thread

        void IBridgeSessionListener.OnWelcome(Welcome welcome)
        {
            _inbox.Enqueue(welcome);
        }

        void IBridgeSessionListener.OnMessage(BridgeMessage message)
        {
            var result = message as Result;
            if (result != null)
            {
                lock (_resultsLock)
                {
                    if (_latestResults.ContainsKey(result.Stream))
                    {
                        long n;
                        _resultsOverwritten.TryGetValue(result.Stream, out n);
                        _resultsOverwritten[result.Stream] = n + 1;
                    }
                    _latestResults[result.Stream] = result;
                }
                return;
            }
            if (message.Kind == MessageKinds.Heartbeat) return;
            _inbox.Enqueue(message);
        }

        void IBridgeSessionListener.OnStateChanged(SessionState state, string reason)
        {
            _states.Enqueue(new KeyValuePair<SessionState, string>(state, reason));
        }

        private void ApplySessionEvent(SessionEvent ev)
        {
            switch (ev.Event)
            {
                case SessionEvent.Snapshot:
                    _members.Clear();
                    foreach (SessionMember m in ev.Members) _members[m.EngineId] = m.Engine;
                    _sharedState = ev.State.Copy();
                    break;
                case SessionEvent.Join:
                    _members[ev.EngineId] = ev.Engine;
                    break;
                case SessionEvent.Leave:
                    _members.Remove(ev.EngineId);
                    break;
            }
        }

        private void ApplyStateChange(StateChange change)
        {
            var next = new MsgPackMap(_sharedState.Count + 1);
            bool replaced = false;
            foreach (KeyValuePair<string, MsgPackValue> e in _sharedState)
            {
                if (e.Key != change.Key)
                {
                    next.Add(e.Key, e.Value);
                }
                else if (change.Op == StateChange.OpSet)
                {
                    next.Add(e.Key, change.Value);
                    replaced = true;
                }
            }
            if (!replaced && change.Op == StateChange.OpSet) next.Add(change.Key, change.Value);
            _sharedState = next;
        }

        private void Update()
        {
            KeyValuePair<SessionState, string> state;
            while (_states.TryDequeue(out state))
            {
                if (ConnectionStateChanged != null) ConnectionStateChanged(state.Key, state.Value);
            }
            TakeAck take;
            while (_takeAcks.TryDequeue(out take))
            {
                if (TakeAcknowledged != null) TakeAcknowledged(take);
            }
            TakeState takeState;
            while (_takeStates.TryDequeue(out takeState))
            {
                CurrentTakeState = takeState;
                if (TakeStateChanged != null) TakeStateChanged(takeState);
            }
            BridgeMessage message;
            int budget = 256; // never let a flood of messages stall a frame
            while (budget-- > 0 && _inbox.TryDequeue(out message))
            {
                switch (message.Kind)
                {
                    case MessageKinds.Welcome:
                        if (Welcomed != null) Welcomed((Welcome)message);
                        break;
                    case MessageKinds.ControlAck:
                        if (ControlAcknowledged != null) ControlAcknowledged((ControlAck)message);
                        break;
                    case MessageKinds.Stats:
                        if (StatsReceived != null) StatsReceived((Stats)message);
                        break;
                    case MessageKinds.Error:
                        var error = (Protocol.Error)message;
                        if (ErrorReceived != null) ErrorReceived(error);
                        else Debug.LogWarning("[machinima-bridge] server error: " + error, this);
                        break;
                    case MessageKinds.Mocap:
                        if (MocapReceived != null) MocapReceived((Mocap)message);
                        break;
                    case MessageKinds.Session:
                        var ev = (SessionEvent)message;
                        ApplySessionEvent(ev);
                        if (SessionEventReceived != null) SessionEventReceived(ev);
                        break;
                    case MessageKinds.State:
                        var change = (StateChange)message;
                        ApplyStateChange(change);
                        if (SharedStateChanged != null) SharedStateChanged(change);
                        break;
                }
            }
        }
    }
}
