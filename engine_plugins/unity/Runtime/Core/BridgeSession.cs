// One engine's session with the bridge server (docs/protocol.md, section 7), independent of
// Unity and of the ZeroMQ library:
//   connect -> HELLO -> WELCOME; FRAMEs (latest per stream wins, never queued); AUDIO chunks
//   (queued in order, bounded: see AudioOutbox); HEARTBEAT when idle; reconnect with a new
//   socket and a new HELLO after a server BYE, a refused HELLO or server silence; BYE on
//   shutdown. Takes start and stop through StartTake / StopTake (a CONTROL to the stage "take";
//   the answers arrive read, as TakeAck, through TakeAcknowledged). With the capability "session",
//   the server's take state (STATE key "bridge.take" and the SESSION snapshot: whoever starts or
//   stops a take) is followed in CurrentTakeState and reported through TakeStateChanged.
// Threading: Poll() and Shutdown() run on one worker thread that owns the transport; Submit*()
// may be called from any thread (the game thread, readback callbacks). Listener callbacks run
// on the worker thread.
using System;
using System.Collections.Generic;
using System.Threading;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Core
{
    public enum SessionState
    {
        /// <summary>Not started, or waiting for the reconnect delay to pass.</summary>
        Disconnected,
        /// <summary>HELLO sent on a fresh socket; waiting for WELCOME (pipelines may be loading models).</summary>
        AwaitingWelcome,
        /// <summary>WELCOME received: frames, controls and stats flow.</summary>
        Welcomed,
        /// <summary>Shut down for good.</summary>
        Stopped,
    }

    public interface IBridgeSessionListener
    {
        void OnWelcome(Welcome welcome);

        /// <summary>Every parsed message from the server after WELCOME handling (RESULT, CONTROL_ACK, STATS, ERROR, MOCAP, HEARTBEAT, BYE).</summary>
        void OnMessage(BridgeMessage message);

        void OnStateChanged(SessionState state, string reason);
    }

    public sealed class BridgeSessionOptions
    {
        public string Endpoint = "tcp://127.0.0.1:5555";
        public string Engine = "unknown engine";
        public string Client = "machinima-bridge-unity/0.1.0";
        public string Session = "default";
        public List<StreamDeclaration> Streams = new List<StreamDeclaration>();
        public List<string> Capabilities = new List<string>();
        /// <summary>Heartbeat interval proposed in HELLO; the WELCOME's value is the one used.</summary>
        public long HeartbeatMs = 1000;
        /// <summary>Give up on a WELCOME after this long and retry with a new socket (model loading can be slow).</summary>
        public int WelcomeTimeoutMs = 60000;
        /// <summary>Before WELCOME (no timeout_ms known yet): silence after which the server counts as gone.</summary>
        public int PreWelcomeSilenceMs = 5000;
        public int ReconnectDelayMs = 250;
        public int MaxReconnectDelayMs = 5000;
        /// <summary>CONTROL, STATS and other queued messages kept while not welcomed.</summary>
        public int MaxQueuedMessages = 256;
        /// <summary>AUDIO chunks waiting for the socket at most (all streams); beyond that new chunks are dropped (counted).</summary>
        public int MaxQueuedAudioChunks = 128;

        /// <summary>Build the HELLO this session sends; throws ArgumentException naming the bad setting.</summary>
        public Hello BuildHello()
        {
            var hello = new Hello
            {
                Engine = Engine,
                Client = Client,
                Session = Session,
                Streams = new List<StreamDeclaration>(Streams),
                Capabilities = new List<string>(Capabilities),
                HeartbeatMs = HeartbeatMs,
            };
            try
            {
                // The same checks the server makes: a setting it would refuse fails here, with its reason.
                MessageCodec.Parse(MessageCodec.Serialize(hello));
            }
            catch (ProtocolException e)
            {
                throw new ArgumentException("the session settings make an invalid HELLO: " + e.Detail, e);
            }
            return hello;
        }
    }

    public sealed class BridgeSession
    {
        private const int ReceiveBatch = 256;

        private readonly IMessageTransport _transport;
        private readonly BridgeSessionOptions _options;
        private readonly IBridgeSessionListener _listener;
        private readonly Hello _hello;

        private readonly object _submitLock = new object();
        private readonly Dictionary<long, Frame> _latestFrames = new Dictionary<long, Frame>();
        private readonly Queue<BridgeMessage> _queued = new Queue<BridgeMessage>();
        private readonly Dictionary<long, StreamCounters> _counters = new Dictionary<long, StreamCounters>();
        private readonly AudioOutbox _audio;
        private volatile bool _audioDropLogged;
        private bool _audioSocketFull; // worker thread: the last chunk met a full socket (wait, do not spin)

        private volatile SessionState _state = SessionState.Disconnected;
        private volatile Welcome _welcome;
        private volatile string _lastError;
        private bool _started;
        private long _reconnectAtNs;
        private int _currentDelayMs;
        private long _helloSentNs;
        private long _lastSentNs;
        private long _lastHeardNs;
        private long _lastHeartbeatSentNs;
        private long _nextRequestId;

        private long _heartbeatsSent;
        private long _parseErrors;
        private long _reconnects;
        private long _welcomes;
        private long _ignoredMessages;
        private readonly HashSet<string> _ignoredKinds = new HashSet<string>();

        private sealed class TakeRequest
        {
            public bool Record;
            public bool Sent;
        }

        // request_id -> take start/stop awaiting its CONTROL_ACK (guarded by _submitLock)
        private readonly Dictionary<long, TakeRequest> _takeRequests = new Dictionary<long, TakeRequest>();
        // the lowest declared stream id; -1 when none is declared (the take CONTROL then goes on stream 0)
        private readonly long _takeStream = -1;
        private volatile TakeAck _lastTakeAck;
        private volatile TakeState _takeState;
        private readonly bool _followsTakeState;

        /// <summary>
        /// The outcome of every StartTake / StopTake: the CONTROL_ACK read as a TakeAck, or a failed
        /// TakeAck (no code) when the request was lost: the connection went before the answer, or it was
        /// dropped from a full outgoing queue. Raised on the worker thread, like the listener's callbacks
        /// (after OnMessage has seen the CONTROL_ACK); a request dropped from a full queue is reported on
        /// the thread whose submit overflowed it.
        /// </summary>
        public event Action<TakeAck> TakeAcknowledged;

        /// <summary>
        /// The server's take state changed: a take started or stopped (whoever started it: this engine,
        /// another, the CLI, OSC), or the SESSION snapshot after a WELCOME told it (NoTake when the server
        /// has recorded none). Raised on the worker thread after the listener's OnMessage has seen the
        /// STATE or SESSION message, only when the state differs from <see cref="CurrentTakeState"/>.
        /// Needs the HELLO capability "session" (the server tells only those engines).
        /// </summary>
        public event Action<TakeState> TakeStateChanged;

        public BridgeSession(IMessageTransport transport, BridgeSessionOptions options, IBridgeSessionListener listener)
        {
            if (transport == null) throw new ArgumentNullException("transport");
            if (options == null) throw new ArgumentNullException("options");
            _transport = transport;
            _options = options;
            _listener = listener;
            _hello = options.BuildHello();
            _followsTakeState = _hello.Capabilities.Contains(SessionCapability);
            _currentDelayMs = options.ReconnectDelayMs;
            foreach (StreamDeclaration s in options.Streams)
            {
                _counters[s.Id] = new StreamCounters();
                if (_takeStream < 0 || s.Id < _takeStream) _takeStream = s.Id;
            }
            _audio = new AudioOutbox(options.Streams, options.MaxQueuedAudioChunks);
        }

        /// <summary>
        /// The stream id a take CONTROL (StartTake / StopTake) carries: the lowest declared stream id, or
        /// 0 when the session declares no stream (a director console, a remote control): the server
        /// ignores the stream of a take CONTROL (docs/protocol.md 6.5), so any engine can start and stop takes.
        /// </summary>
        public long TakeStream { get { return _takeStream < 0 ? 0 : _takeStream; } }

        public SessionState State { get { return _state; } }
        public Welcome Welcome { get { return _welcome; } }
        public string Endpoint { get { return _options.Endpoint; } }
        /// <summary>The last error for people: a refused HELLO, an ERROR from the server, a lost connection.</summary>
        public string LastError { get { return _lastError; } }
        public long HeartbeatsSent { get { return Interlocked.Read(ref _heartbeatsSent); } }
        public long ParseErrors { get { return Interlocked.Read(ref _parseErrors); } }
        public long Reconnects { get { return Interlocked.Read(ref _reconnects); } }
        public long WelcomesReceived { get { return Interlocked.Read(ref _welcomes); } }
        /// <summary>Server messages of kinds this client does not know (newer protocol additions), ignored.</summary>
        public long IgnoredMessages { get { return Interlocked.Read(ref _ignoredMessages); } }

        public IEnumerable<long> StreamIds { get { return _counters.Keys; } }

        /// <summary>The newest take outcome this session received (any thread may read it), or null.</summary>
        public TakeAck LastTakeAck { get { return _lastTakeAck; } }

        /// <summary>Take requests sent or queued whose answer has not arrived yet.</summary>
        public int PendingTakeRequests { get { lock (_submitLock) return _takeRequests.Count; } }

        /// <summary>The HELLO capability under which the server sends SESSION events and STATE changes, take state included.</summary>
        public const string SessionCapability = "session";

        /// <summary>
        /// The server's take state as last heard (any thread may read it), or null before the server said
        /// anything: always null without the capability "session" (see <see cref="FollowsTakeState"/>).
        /// </summary>
        public TakeState CurrentTakeState { get { return _takeState; } }

        /// <summary>True when the HELLO declares the capability "session", so the server's take state is followed.</summary>
        public bool FollowsTakeState { get { return _followsTakeState; } }

        public StreamCounters Counters(long streamId)
        {
            StreamCounters c;
            if (!_counters.TryGetValue(streamId, out c)) throw new KeyNotFoundException("stream " + streamId + " is not declared in this session");
            return c;
        }

        // ------------------------------------------------------------------ any thread

        /// <summary>
        /// Offer a FRAME for sending. Latest wins: a frame of the same stream not yet sent is replaced
        /// (counted). Returns false when the frame was refused at once (not welcomed, undeclared stream).
        /// </summary>
        public bool SubmitFrame(Frame frame)
        {
            StreamCounters counters;
            if (!_counters.TryGetValue(frame.Stream, out counters))
            {
                throw new ArgumentException("stream " + frame.Stream + " is not declared in this session's HELLO");
            }
            counters.FrameSubmitted();
            if (_state != SessionState.Welcomed)
            {
                counters.FrameDroppedNotConnected();
                return false;
            }
            lock (_submitLock)
            {
                if (_latestFrames.ContainsKey(frame.Stream)) counters.FrameReplaced();
                _latestFrames[frame.Stream] = frame;
            }
            _transport.Wake();
            return true;
        }

        /// <summary>The audio format stream <paramref name="streamId"/> declared, or null when it carries no sound.</summary>
        public AudioFormat AudioFormatOf(long streamId)
        {
            return _audio.FormatOf(streamId);
        }

        /// <summary>
        /// Offer one AUDIO chunk: all of <paramref name="interleaved"/> (s16, a whole number of
        /// <paramref name="channels"/>-channel frames, at most one second) whose first sample was captured at
        /// <paramref name="tCaptureNs"/> (MonotonicClock, the clock of FRAME.t_capture_ns). Never blocks: the
        /// chunk is queued for the worker thread. Returns the index the chunk got (per stream, one more per
        /// call; a chunk dropped later leaves a gap the server sees), or -1 when it was dropped at once (not
        /// welcomed, queue full). Throws ArgumentException when the stream was not declared with audio, the
        /// format differs from its declaration, or the chunk is empty or longer than one second.
        /// </summary>
        public long SubmitAudio(long stream, long tCaptureNs, short[] interleaved, int sampleRateHz, int channels)
        {
            if (interleaved == null) throw new ArgumentNullException("interleaved");
            CheckAudioStream(stream);
            _audio.Check(stream, sampleRateHz, channels, interleaved.Length);
            var pcm = new byte[interleaved.Length * 2];
            for (int i = 0; i < interleaved.Length; i++)
            {
                pcm[2 * i] = (byte)(interleaved[i] & 0xff);
                pcm[2 * i + 1] = (byte)((interleaved[i] >> 8) & 0xff);
            }
            return EnqueueAudio(stream, tCaptureNs, pcm, sampleRateHz, channels);
        }

        /// <summary>As <see cref="SubmitAudio"/>, for samples already in wire form: interleaved s16 little-endian bytes (kept, not copied).</summary>
        public long SubmitAudioPcm(long stream, long tCaptureNs, byte[] pcmS16, int sampleRateHz, int channels)
        {
            if (pcmS16 == null) throw new ArgumentNullException("pcmS16");
            CheckAudioStream(stream);
            if (pcmS16.Length % 2 != 0)
            {
                throw new ArgumentException("AUDIO for stream " + stream + ": " + pcmS16.Length + " bytes is not a whole number of 16-bit samples");
            }
            _audio.Check(stream, sampleRateHz, channels, pcmS16.Length / 2);
            return EnqueueAudio(stream, tCaptureNs, pcmS16, sampleRateHz, channels);
        }

        private void CheckAudioStream(long stream)
        {
            if (!_counters.ContainsKey(stream)) throw new ArgumentException("stream " + stream + " is not declared in this session's HELLO");
        }

        private long EnqueueAudio(long stream, long tCaptureNs, byte[] pcm, int sampleRateHz, int channels)
        {
            StreamCounters counters = _counters[stream];
            counters.AudioSubmitted();
            long index = _audio.TakeIndex(stream);
            if (_state != SessionState.Welcomed)
            {
                counters.AudioDropped();
                return -1;
            }
            var chunk = new Audio
            {
                Stream = stream, Index = index, TCaptureNs = Math.Max(0, tCaptureNs), SampleRateHz = sampleRateHz,
                Channels = channels, Samples = pcm.Length / 2 / channels, Pcm = pcm,
            };
            if (!_audio.TryAdd(chunk))
            {
                counters.AudioDropped();
                if (!_audioDropLogged)
                {
                    _audioDropLogged = true;
                    _lastError = "AUDIO queue full (" + _audio.Capacity + " chunks): new chunks are dropped until the link catches up";
                    BridgeLog.Warning(_lastError);
                }
                return -1;
            }
            _transport.Wake();
            return index;
        }

        /// <summary>Queue a CONTROL (sent once welcomed); returns its request_id, which the CONTROL_ACK echoes.</summary>
        public long SubmitControl(long stream, string stage, MsgPackMap parameters, double? glideMs = null)
        {
            long id = Interlocked.Increment(ref _nextRequestId);
            var control = new Control { RequestId = id, Stream = stream, Stage = stage, Params = parameters, GlideMs = glideMs };
            // Refuse locally what the server would refuse as unparseable, naming the cause.
            try
            {
                MessageCodec.Parse(MessageCodec.Serialize(control));
            }
            catch (ProtocolException e)
            {
                throw new ArgumentException("invalid CONTROL: " + e.Detail, e);
            }
            Enqueue(control);
            return id;
        }

        /// <summary>
        /// Ask the server to start recording a take of everything it serves (all engines' streams,
        /// controls, mocap, sound), named <paramref name="name"/> (null: the server names it
        /// take-YYYYMMDD-HHMMSS). Queued like any CONTROL (sent once welcomed); returns its request_id.
        /// The answer comes through <see cref="TakeAcknowledged"/>: ok with the take's name, folder and
        /// start timecode, or refused (a take is already recording; a take of that name exists).
        /// Throws ArgumentException when the name breaks the take name rule (TakeControl.NameProblem).
        /// The CONTROL goes on the lowest declared stream id, or on stream 0 when the session declares
        /// none (docs/protocol.md 6.5: the server ignores the stream of a take CONTROL).
        /// </summary>
        public long StartTake(string name = null)
        {
            if (name != null) TakeControl.CheckName(name);
            return SubmitTake(true, TakeControl.StartParams(name));
        }

        /// <summary>
        /// Ask the server to stop the take recording now (whoever started it: this engine, another, the
        /// CLI or OSC). The answer (TakeAcknowledged) has the take's name, folder and status: "stopping"
        /// while its writers finish, or "complete"; refused when no take is recording.
        /// </summary>
        public long StopTake()
        {
            return SubmitTake(false, TakeControl.StopParams());
        }

        private long SubmitTake(bool record, MsgPackMap parameters)
        {
            long id = Interlocked.Increment(ref _nextRequestId);
            var control = new Control { RequestId = id, Stream = TakeStream, Stage = TakeControl.Stage, Params = parameters };
            lock (_submitLock) _takeRequests[id] = new TakeRequest { Record = record };
            Enqueue(control);
            return id;
        }

        private void RaiseTakeAck(TakeAck ack)
        {
            _lastTakeAck = ack;
            if (!ack.Ok) BridgeLog.Warning(ack.ToString());
            Action<TakeAck> handler = TakeAcknowledged;
            if (handler == null) return;
            try
            {
                handler(ack);
            }
            catch (Exception e)
            {
                // A failing handler must not disturb the session (the worker thread runs it).
                BridgeLog.Error("TakeAcknowledged handler failed for request " + ack.RequestId + ": " + e);
            }
        }

        /// <summary>Take requests already sent whose answer can no longer come (the connection is gone): failed.</summary>
        private void FailSentTakeRequests(string why)
        {
            var lost = new List<KeyValuePair<long, TakeRequest>>();
            lock (_submitLock)
            {
                foreach (KeyValuePair<long, TakeRequest> e in _takeRequests)
                {
                    if (e.Value.Sent) lost.Add(e);
                }
                foreach (KeyValuePair<long, TakeRequest> e in lost) _takeRequests.Remove(e.Key);
            }
            foreach (KeyValuePair<long, TakeRequest> e in lost)
            {
                RaiseTakeAck(TakeAck.Failed(e.Key, e.Value.Record, "no answer to the take " + (e.Value.Record ? "start" : "stop")
                                            + ": " + why + "; the server may have acted on it (`machinima-bridge takes list` shows its takes)"));
            }
        }

        public void SubmitStatsRequest()
        {
            Enqueue(new Stats { TNs = MonotonicClock.NowNs() });
        }

        /// <summary>Queue any other message (sent once welcomed, in order).</summary>
        public void SubmitMessage(BridgeMessage message)
        {
            Enqueue(message);
        }

        private void Enqueue(BridgeMessage message)
        {
            TakeAck droppedTake = null;
            lock (_submitLock)
            {
                if (_queued.Count >= _options.MaxQueuedMessages)
                {
                    BridgeMessage dropped = _queued.Dequeue();
                    BridgeLog.Warning("outgoing queue full (" + _options.MaxQueuedMessages + "): dropped a queued " + dropped.Kind);
                    var control = dropped as Control;
                    TakeRequest request;
                    if (control != null && _takeRequests.TryGetValue(control.RequestId, out request))
                    {
                        _takeRequests.Remove(control.RequestId);
                        droppedTake = TakeAck.Failed(control.RequestId, request.Record, "the take " + (request.Record ? "start" : "stop")
                                                     + " was dropped unsent: the outgoing queue was full (" + _options.MaxQueuedMessages + " messages)");
                    }
                }
                _queued.Enqueue(message);
            }
            if (droppedTake != null) RaiseTakeAck(droppedTake);
            _transport.Wake();
        }

        // ------------------------------------------------------------------ worker thread

        /// <summary>One turn of the session: timers, sends, receives, then wait up to <paramref name="maxWaitMs"/> for activity.</summary>
        public void Poll(int maxWaitMs)
        {
            if (_state == SessionState.Stopped) return;
            if (!_started)
            {
                _started = true;
                _reconnectAtNs = MonotonicClock.NowNs();
            }
            long now = MonotonicClock.NowNs();
            RunTimers(now);
            if (_state == SessionState.Welcomed)
            {
                FlushQueued();
                // Frames first: one the socket cannot take now is dropped (latest wins), while a
                // chunk waits in its queue for the next turn.
                FlushFrames();
                FlushAudio();
            }
            bool received = ReceiveAvailable();
            if (received || _state == SessionState.Stopped) return;
            int wait = Math.Min(maxWaitMs, MillisecondsToNextTimer(MonotonicClock.NowNs()));
            if (wait > 0 && !HasWaitingWork())
            {
                _transport.WaitForActivity(wait);
                ReceiveAvailable();
            }
        }

        /// <summary>Say BYE (when a session is open) and close the socket; the session cannot be used again.</summary>
        public void Shutdown(string reason)
        {
            if (_state == SessionState.Stopped) return;
            if (_transport.IsOpen)
            {
                if (_state == SessionState.Welcomed || _state == SessionState.AwaitingWelcome)
                {
                    _transport.TrySend(MessageCodec.Serialize(new Bye { Reason = reason ?? "" }));
                }
                // A short linger lets the BYE leave; closing never waits longer than this.
                _transport.Close(200);
            }
            SetState(SessionState.Stopped, reason);
        }

        private bool HasWaitingWork()
        {
            lock (_submitLock)
            {
                return _state == SessionState.Welcomed
                       && (_latestFrames.Count > 0 || _queued.Count > 0 || (_audio.Count > 0 && !_audioSocketFull));
            }
        }

        private int MillisecondsToNextTimer(long now)
        {
            long next = long.MaxValue;
            switch (_state)
            {
                case SessionState.Disconnected:
                    next = _reconnectAtNs;
                    break;
                case SessionState.AwaitingWelcome:
                    next = Math.Min(_helloSentNs + (long)_options.WelcomeTimeoutMs * 1000000L,
                                    _lastSentNs + _options.HeartbeatMs * 1000000L);
                    break;
                case SessionState.Welcomed:
                    Welcome w = _welcome;
                    next = Math.Min(_lastSentNs + w.HeartbeatMs * 1000000L, _lastHeardNs + w.HeartbeatMs * 1000000L);
                    if (_lastHeartbeatSentNs > _lastHeardNs) next = Math.Min(next, _lastHeardNs + w.TimeoutMs * 1000000L);
                    break;
            }
            if (next == long.MaxValue) return int.MaxValue;
            long ms = (next - now + 999999L) / 1000000L;
            return (int)Math.Max(0, Math.Min(int.MaxValue, ms));
        }

        private void RunTimers(long now)
        {
            switch (_state)
            {
                case SessionState.Disconnected:
                    if (now >= _reconnectAtNs) Connect(now);
                    break;
                case SessionState.AwaitingWelcome:
                    if (now - _helloSentNs >= (long)_options.WelcomeTimeoutMs * 1000000L)
                    {
                        Reconnect("no WELCOME from " + _options.Endpoint + " within " + _options.WelcomeTimeoutMs + " ms", true);
                    }
                    else if (_lastHeartbeatSentNs > _lastHeardNs && now - _lastHeardNs >= (long)_options.PreWelcomeSilenceMs * 1000000L)
                    {
                        Reconnect("server at " + _options.Endpoint + " silent for " + _options.PreWelcomeSilenceMs + " ms while awaiting WELCOME", true);
                    }
                    else if (now - _lastSentNs >= _options.HeartbeatMs * 1000000L)
                    {
                        // The server answers HEARTBEAT at any time: proof that it is alive while models load.
                        SendHeartbeat(now);
                    }
                    break;
                case SessionState.Welcomed:
                    Welcome w = _welcome;
                    long silentNs = now - _lastHeardNs;
                    if (silentNs >= w.TimeoutMs * 1000000L && _lastHeartbeatSentNs > _lastHeardNs)
                    {
                        Reconnect("server at " + _options.Endpoint + " silent for " + silentNs / 1000000L + " ms (timeout_ms " + w.TimeoutMs + ")", false);
                    }
                    else if (now - _lastSentNs >= w.HeartbeatMs * 1000000L
                             || (silentNs >= w.HeartbeatMs * 1000000L && _lastHeartbeatSentNs <= _lastHeardNs))
                    {
                        SendHeartbeat(now);
                    }
                    break;
            }
        }

        private void Connect(long now)
        {
            lock (_submitLock) _latestFrames.Clear();
            DropQueuedAudio();
            _transport.Open(_options.Endpoint);
            _welcome = null;
            // A fresh DEALER queues the HELLO until the TCP connection is up.
            if (!Send(MessageCodec.Serialize(_hello), now))
            {
                Reconnect("could not queue HELLO on a new socket to " + _options.Endpoint, true);
                return;
            }
            _helloSentNs = now;
            _lastHeardNs = now;
            _lastHeartbeatSentNs = 0;
            SetState(SessionState.AwaitingWelcome, "HELLO sent to " + _options.Endpoint);
        }

        private void Reconnect(string why, bool backOff)
        {
            _lastError = why;
            FailSentTakeRequests(why);
            BridgeLog.Warning(why + "; reconnecting in " + _currentDelayMs + " ms with a new socket");
            _transport.Close(0);
            lock (_submitLock) _latestFrames.Clear();
            DropQueuedAudio();
            Interlocked.Increment(ref _reconnects);
            _reconnectAtNs = MonotonicClock.NowNs() + (long)_currentDelayMs * 1000000L;
            _currentDelayMs = backOff ? Math.Min(_options.MaxReconnectDelayMs, Math.Max(1, _currentDelayMs) * 2) : _options.ReconnectDelayMs;
            SetState(SessionState.Disconnected, why);
        }

        private void SetState(SessionState state, string reason)
        {
            _state = state;
            if (_listener != null) _listener.OnStateChanged(state, reason);
        }

        private bool Send(IList<byte[]> parts, long now)
        {
            if (!_transport.TrySend(parts)) return false;
            _lastSentNs = now;
            return true;
        }

        private void SendHeartbeat(long now)
        {
            if (Send(MessageCodec.Serialize(new Heartbeat { TNs = now }), now))
            {
                _lastHeartbeatSentNs = now;
                Interlocked.Increment(ref _heartbeatsSent);
            }
        }

        private void FlushQueued()
        {
            while (true)
            {
                BridgeMessage next;
                lock (_submitLock)
                {
                    if (_queued.Count == 0) return;
                    next = _queued.Peek();
                }
                if (!Send(MessageCodec.Serialize(next), MonotonicClock.NowNs())) return; // queue full: retry next turn
                lock (_submitLock)
                {
                    _queued.Dequeue();
                    var control = next as Control;
                    TakeRequest request;
                    if (control != null && _takeRequests.TryGetValue(control.RequestId, out request)) request.Sent = true;
                }
            }
        }

        /// <summary>Chunks of a session that ended are not sent to the next one.</summary>
        private void DropQueuedAudio()
        {
            foreach (Audio chunk in _audio.Clear()) _counters[chunk.Stream].AudioDropped();
        }

        private void FlushAudio()
        {
            long maxBytes = _welcome.MaxFrameBytes;
            for (Audio next = _audio.Peek(); next != null; next = _audio.Peek())
            {
                StreamCounters counters = _counters[next.Stream];
                List<byte[]> parts = MessageCodec.Serialize(next);
                long total = parts[0].Length + next.Pcm.Length;
                if (total > maxBytes)
                {
                    _lastError = "AUDIO of stream " + next.Stream + " is " + total + " bytes, above the server's max_frame_bytes " + maxBytes;
                    counters.AudioDropped();
                }
                else if (Send(parts, MonotonicClock.NowNs()))
                {
                    counters.AudioSent();
                    _audioDropLogged = false;
                    _audioSocketFull = false;
                }
                else
                {
                    // Socket queue full: the chunk stays first in line; the next chunk's Wake() or the
                    // poll timeout brings the next try.
                    _audioSocketFull = true;
                    return;
                }
                _audio.RemoveFirst();
            }
        }

        private readonly List<Frame> _framesToSend = new List<Frame>();

        private void FlushFrames()
        {
            _framesToSend.Clear();
            lock (_submitLock)
            {
                if (_latestFrames.Count == 0) return;
                _framesToSend.AddRange(_latestFrames.Values);
                _latestFrames.Clear();
            }
            long maxBytes = _welcome.MaxFrameBytes;
            foreach (Frame frame in _framesToSend)
            {
                StreamCounters counters = _counters[frame.Stream];
                List<byte[]> parts = MessageCodec.Serialize(frame);
                long total = 0;
                foreach (byte[] p in parts) total += p.Length;
                if (total > maxBytes)
                {
                    counters.FrameTooLarge();
                    _lastError = "FRAME of stream " + frame.Stream + " is " + total + " bytes, above the server's max_frame_bytes " + maxBytes;
                    continue;
                }
                long now = MonotonicClock.NowNs();
                if (Send(parts, now)) counters.FrameSent(now);
                else counters.FrameRefusedQueueFull();
            }
            _framesToSend.Clear();
        }

        private bool ReceiveAvailable()
        {
            bool any = false;
            for (int i = 0; i < ReceiveBatch && _transport.IsOpen; i++)
            {
                List<byte[]> parts = _transport.TryReceive();
                if (parts == null) break;
                any = true;
                long now = MonotonicClock.NowNs();
                BridgeMessage message;
                try
                {
                    message = MessageCodec.Parse(parts);
                }
                catch (ProtocolException e)
                {
                    _lastHeardNs = now;
                    if (e.Code == ErrorCode.UNKNOWN_KIND)
                    {
                        // A kind added to the protocol after this client: ignore it (section 4), say so once.
                        Interlocked.Increment(ref _ignoredMessages);
                        if (_ignoredKinds.Add(e.Kind ?? "")) BridgeLog.Info("ignoring server messages of kind '" + e.Kind + "', which this client does not know");
                        continue;
                    }
                    // 7.8: an engine that cannot parse a server message logs it and drops it.
                    Interlocked.Increment(ref _parseErrors);
                    _lastError = "unparseable message from the server: " + e.Message;
                    BridgeLog.Warning(_lastError);
                    continue;
                }
                _lastHeardNs = now;
                Handle(message, now);
                if (_state == SessionState.Stopped || _state == SessionState.Disconnected) break;
            }
            return any;
        }

        private void Handle(BridgeMessage message, long now)
        {
            switch (message.Kind)
            {
                case MessageKinds.Welcome:
                    if (_state != SessionState.AwaitingWelcome) return; // a stale WELCOME: ignore
                    var welcome = (Welcome)message;
                    _welcome = welcome;
                    _currentDelayMs = _options.ReconnectDelayMs;
                    Interlocked.Increment(ref _welcomes);
                    SetState(SessionState.Welcomed, "WELCOME from " + welcome.Server + " as " + welcome.EngineId);
                    if (_listener != null) _listener.OnWelcome(welcome);
                    return;
                case MessageKinds.Result:
                    if (_state != SessionState.Welcomed) return; // 7.2: RESULTs before the new WELCOME are stale
                    var result = (Result)message;
                    StreamCounters counters;
                    if (_counters.TryGetValue(result.Stream, out counters))
                    {
                        counters.ResultReceived(now, result.Index, result.TCaptureNs, result.ServerUs, result.Dropped);
                    }
                    break;
                case MessageKinds.Error:
                    var error = (Error)message;
                    _lastError = error.ToString();
                    if (_state == SessionState.AwaitingWelcome && error.RefKind == MessageKinds.Hello)
                    {
                        if (_listener != null) _listener.OnMessage(message);
                        Reconnect("HELLO refused: " + error, true);
                        return;
                    }
                    break;
                case MessageKinds.Bye:
                    if (_listener != null) _listener.OnMessage(message);
                    Reconnect("server said BYE: " + ((Bye)message).Reason, false);
                    return;
                case MessageKinds.Session:
                case MessageKinds.State:
                    if (_listener != null) _listener.OnMessage(message);
                    FollowTakeState(message);
                    return;
                case MessageKinds.ControlAck:
                    var ack = (ControlAck)message;
                    TakeRequest request;
                    lock (_submitLock)
                    {
                        if (_takeRequests.TryGetValue(ack.RequestId, out request)) _takeRequests.Remove(ack.RequestId);
                    }
                    if (_listener != null) _listener.OnMessage(message);
                    if (request != null) RaiseTakeAck(ReadTakeAck(ack, request.Record));
                    return;
            }
            if (_listener != null) _listener.OnMessage(message);
        }

        /// <summary>A SESSION snapshot or a server STATE change of "bridge.take": the new take state, raised when it differs.</summary>
        private void FollowTakeState(BridgeMessage message)
        {
            TakeState state;
            try
            {
                if (!TakeState.TryRead(message, out state)) return;
            }
            catch (FormatException e)
            {
                // A malformed value leaves the state as it was: say why, once per message.
                _lastError = "unreadable take state from the server (" + message.Kind + "): " + e.Message;
                BridgeLog.Warning(_lastError);
                return;
            }
            if (state.Equals(_takeState)) return;
            _takeState = state;
            Action<TakeState> handler = TakeStateChanged;
            if (handler == null) return;
            try
            {
                handler(state);
            }
            catch (Exception e)
            {
                BridgeLog.Error("TakeStateChanged handler failed for " + state + ": " + e);
            }
        }

        private TakeAck ReadTakeAck(ControlAck ack, bool record)
        {
            try
            {
                return TakeAck.FromControlAck(ack, record);
            }
            catch (FormatException e)
            {
                _lastError = "unreadable answer from the server: " + e.Message;
                return TakeAck.Failed(ack.RequestId, record, e.Message);
            }
        }
    }
}
