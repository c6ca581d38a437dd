// A BridgeSession on a BridgeWorker over libzmq, as the Unity BridgeConnection runs it, with
// every server message collected for the probe's checks and every state change reported.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Standalone
{
    public sealed class SessionHarness : IBridgeSessionListener, IDisposable
    {
        public readonly BlockingCollection<BridgeMessage> Messages = new BlockingCollection<BridgeMessage>();
        public readonly BridgeSession Session;
        public readonly BridgeWorker Worker;
        private readonly LibZmqTransport _transport;
        public readonly List<string> StateLog = new List<string>();

        /// <summary>With tapControls (parses every message sent: not for frame-heavy probes): every CONTROL the session put on the wire, parsed back from the bytes sent.</summary>
        public readonly BlockingCollection<Control> SentControls = new BlockingCollection<Control>();

        public SessionHarness(BridgeSessionOptions options, bool reportStates, bool tapControls = false)
        {
            ReportStates = reportStates;
            _transport = new LibZmqTransport();
            if (tapControls) _transport.MessageSent = CollectControl;
            Session = new BridgeSession(_transport, options, this);
            Worker = new BridgeWorker(Session, _transport);
        }

        private void CollectControl(IList<byte[]> parts)
        {
            var control = MessageCodec.Parse(parts) as Control;
            if (control != null) SentControls.Add(control);
        }

        public bool ReportStates { get; private set; }

        public void OnWelcome(Welcome welcome)
        {
        }

        public void OnMessage(BridgeMessage message)
        {
            if (message.Kind == MessageKinds.Heartbeat) return;
            Messages.Add(message);
        }

        public void OnStateChanged(SessionState state, string reason)
        {
            lock (StateLog) StateLog.Add(state + ": " + reason);
            if (ReportStates) new JsonLine("state").Add("state", state.ToString()).Add("reason", reason).Print();
        }

        /// <summary>The next message that <paramref name="match"/> accepts; fails on an ERROR or after the timeout.</summary>
        public T Await<T>(Func<T, bool> match, int timeoutMs, string what) where T : BridgeMessage
        {
            var watch = Stopwatch.StartNew();
            while (true)
            {
                int left = timeoutMs - (int)watch.ElapsedMilliseconds;
                BridgeMessage m;
                if (left <= 0 || !Messages.TryTake(out m, left))
                {
                    throw new TimeoutException("no " + what + " within " + timeoutMs + " ms (state " + Session.State
                                               + ", last error: " + Session.LastError + ")");
                }
                var typed = m as T;
                if (typed != null && (match == null || match(typed))) return typed;
                var error = m as Error;
                if (error != null && typeof(T) != typeof(Error))
                {
                    throw new InvalidOperationException("server error while waiting for " + what + ": " + error);
                }
            }
        }

        public bool WaitUntil(Func<bool> condition, int timeoutMs)
        {
            var watch = Stopwatch.StartNew();
            while (!condition())
            {
                if (watch.ElapsedMilliseconds > timeoutMs) return false;
                System.Threading.Thread.Sleep(5);
            }
            return true;
        }

        public void Dispose()
        {
            Worker.Stop("harness disposed", 2000);
            _transport.Dispose();
        }
    }
}
