// Starts and stops takes on the server (docs/takes.md) from the inspector, a UI button, a hotkey or
// scripts, and shows the take the server is recording: its name, start timecode and (for takes this
// component started or stopped) its folder.
// UI hook-ups: a Button's On Click -> StartTake(), StopTake() or ToggleTake(); an InputField's
// On End Edit -> SetTakeName(string).
// The server records one take at a time for all engines and tells every "session" engine when one
// starts or stops, whoever started it (this component, another engine, the CLI, OSC): the STATE key
// "bridge.take" (docs/protocol.md 6.13). This component makes its BridgeConnection declare the
// capability "session" (at connect time), so IsRecording, the REC indicator and the events follow
// the server; the answers to its own requests update them too (the only source without "session").
using System;
using MachinimaBridge.Core;
using UnityEngine;
using UnityEngine.Events;

namespace MachinimaBridge
{
    [Serializable]
    public sealed class TakeEvent : UnityEvent<string>
    {
    }

    [AddComponentMenu("Machinima Bridge/Take Recorder Control")]
    public sealed class TakeRecorderControl : MonoBehaviour
    {
        public BridgeConnection connection;

        [Tooltip("Name of the next take: 1..128 letters, digits, '.', '_' or '-', starting with a letter or digit. Empty: the server names it take-YYYYMMDD-HHMMSS.")]
        public string takeName = "";

        [Tooltip("Append -001, -002, ... to the name (the number goes up after every take that starts), so each take gets a new folder.")]
        public bool numberTakes;

        [Tooltip("Number of the next take when numberTakes is on.")]
        [Min(1)] public int nextTakeNumber = 1;

        [Tooltip("Key that starts a take, or stops the one recording (legacy Input Manager only; None: no hotkey).")]
        public KeyCode toggleKey = KeyCode.None;

        [Tooltip("Raised when a take starts, whoever started it (this component, another engine, the CLI, OSC), or when this component learns of one already recording: its name.")]
        public TakeEvent onTakeStarted = new TakeEvent();

        [Tooltip("Raised when the take recording stops, whoever stopped it: its name.")]
        public TakeEvent onTakeStopped = new TakeEvent();

        [Tooltip("Raised when a start or stop was refused or lost: the reason.")]
        public TakeEvent onTakeRefused = new TakeEvent();

        /// <summary>True while the server records a take (whoever started it), as last heard.</summary>
        public bool IsRecording { get { return _indicator.IsRecording; } }
        /// <summary>The take recording (or the last one recorded), as the server named it.</summary>
        public string CurrentTake { get { return _indicator.Take; } }
        /// <summary>Its folder on the server's machine, when this component started or stopped it (the server's take state has no folder).</summary>
        public string CurrentTakePath { get { return _indicator.Path; } }
        /// <summary>The SMPTE timecode at which it started.</summary>
        public string CurrentTakeTimecode { get { return _indicator.Timecode; } }
        /// <summary>The server's take state as last heard (STATE "bridge.take" or the snapshot); null before the server said anything.</summary>
        public TakeState ServerTakeState { get; private set; }
        /// <summary>True once the server's take state was heard: what is shown follows the server, not only this component's requests.</summary>
        public bool FollowsServer { get { return ServerTakeState != null; } }
        /// <summary>The newest answer to this component's requests.</summary>
        public TakeAck LastAck { get; private set; }
        /// <summary>For people: the last answer or problem, as text.</summary>
        public string LastMessage { get; private set; }
        /// <summary>Requests sent whose answer has not come yet.</summary>
        public int PendingRequests { get { return _pending.Count; } }

        private readonly System.Collections.Generic.Dictionary<long, Action<TakeAck>> _pending =
            new System.Collections.Generic.Dictionary<long, Action<TakeAck>>();
        private readonly TakeIndicator _indicator = new TakeIndicator();

        private void Awake()
        {
            _indicator.Started += take => onTakeStarted.Invoke(take);
            _indicator.Stopped += take => onTakeStopped.Invoke(take);
        }

        private void Reset()
        {
            connection = FindObjectOfType<BridgeConnection>();
        }

        private void OnEnable()
        {
            if (connection == null) return;
            connection.TakeAcknowledged += OnTakeAck;
            connection.TakeStateChanged += OnTakeState;
            if (connection.CurrentTakeState != null) OnTakeState(connection.CurrentTakeState);
            BridgeSession session = connection.Session;
            if (session != null && !session.FollowsTakeState)
            {
                // Enabled after the connection connected without "session": the server does not tell it about takes.
                Debug.LogWarning("[machinima-bridge] " + name + ": " + connection.name + " connected without the capability \"session\", "
                                 + "so takes started or stopped elsewhere do not show here; call " + connection.name + ".Connect() to reconnect with it", this);
            }
        }

        private void OnDisable()
        {
            if (connection != null)
            {
                connection.TakeAcknowledged -= OnTakeAck;
                connection.TakeStateChanged -= OnTakeState;
            }
            _pending.Clear();
        }

        private void Update()
        {
#if ENABLE_LEGACY_INPUT_MANAGER
            if (toggleKey != KeyCode.None && Input.GetKeyDown(toggleKey)) ToggleTake();
#endif
        }

        /// <summary>The name the next StartTake() uses (null: the server chooses), with the take number when numberTakes is on.</summary>
        public string NextTakeName()
        {
            string name = takeName == null || takeName.Trim().Length == 0 ? null : takeName.Trim();
            if (!numberTakes) return name;
            return (name ?? "take") + "-" + Mathf.Max(1, nextTakeNumber).ToString("000");
        }

        /// <summary>UI: set the name of the next take.</summary>
        public void SetTakeName(string name)
        {
            takeName = name ?? "";
        }

        /// <summary>UI / inspector / hotkey: start a take named by the settings. A bad name is reported (LastMessage, onTakeRefused), not thrown.</summary>
        public void StartTake()
        {
            try
            {
                StartTake(NextTakeName());
            }
            catch (ArgumentException e)
            {
                Refused(e.Message);
            }
        }

        /// <summary>
        /// Start a take named <paramref name="name"/> (null: the server names it); <paramref name="onAck"/>
        /// gets the answer on the game thread. Returns the request_id, or -1 when there is no connection.
        /// Throws ArgumentException for a name the server would refuse, saying why.
        /// </summary>
        public long StartTake(string name, Action<TakeAck> onAck = null)
        {
            if (name != null) TakeControl.CheckName(name);
            if (!HasConnection()) return -1;
            long id = connection.StartTake(name);
            return Track(id, onAck, "start of take " + (name ?? "(named by the server)"));
        }

        /// <summary>UI / inspector: stop the take the server is recording.</summary>
        public void StopTake()
        {
            StopTake(null);
        }

        /// <summary>Stop the take the server is recording; <paramref name="onAck"/> gets the answer. Returns the request_id, or -1 without a connection.</summary>
        public long StopTake(Action<TakeAck> onAck)
        {
            if (!HasConnection()) return -1;
            return Track(connection.StopTake(), onAck, "stop of the take");
        }

        /// <summary>Stop the take when one is recording (whoever started it), otherwise start one.</summary>
        public void ToggleTake()
        {
            if (IsRecording) StopTake();
            else StartTake();
        }

        private bool HasConnection()
        {
            if (connection != null) return true;
            Refused("TakeRecorderControl on " + name + " has no BridgeConnection");
            return false;
        }

        private long Track(long id, Action<TakeAck> onAck, string what)
        {
            if (id < 0)
            {
                Refused(what + " not sent: " + connection.name + " is not connected");
                return -1;
            }
            _pending[id] = onAck;
            LastMessage = what + ": waiting for the server (request " + id + ")";
            return id;
        }

        private void Refused(string reason)
        {
            LastMessage = reason;
            Debug.LogWarning("[machinima-bridge] " + reason, this);
            onTakeRefused.Invoke(reason);
        }

        private void OnTakeAck(TakeAck ack)
        {
            Action<TakeAck> callback;
            if (!_pending.TryGetValue(ack.RequestId, out callback)) return; // a request of another component or script
            _pending.Remove(ack.RequestId);
            LastAck = ack;
            LastMessage = ack.ToString();
            if (ack.Ok && ack.Record && numberTakes) nextTakeNumber = Mathf.Max(1, nextTakeNumber) + 1;
            // A refused stop means no take is recording (stopped elsewhere, or failed): the indicator reads it so.
            _indicator.Apply(ack);
            if (!ack.Ok) Refused(LastMessage);
            if (callback != null) callback(ack);
        }

        /// <summary>The server's take state changed (any source): show it.</summary>
        private void OnTakeState(TakeState state)
        {
            ServerTakeState = state;
            _indicator.Apply(state);
        }
    }
}
