// Runs a BridgeSession on its own background thread. Stop() asks the thread to say BYE and
// close the socket, and waits a bounded time: quitting play mode or the editor never hangs on
// the network.
using System;
using System.Threading;

namespace MachinimaBridge.Core
{
    public sealed class BridgeWorker
    {
        private readonly BridgeSession _session;
        private readonly IMessageTransport _transport;
        private readonly int _maxWaitMs;
        private volatile bool _stopRequested;
        private string _stopReason = "engine stopped";
        private Thread _thread;

        public BridgeWorker(BridgeSession session, IMessageTransport transport, int maxWaitMs = 100)
        {
            _session = session;
            _transport = transport;
            _maxWaitMs = Math.Max(1, maxWaitMs);
        }

        public BridgeSession Session { get { return _session; } }
        public bool IsRunning { get { Thread t = _thread; return t != null && t.IsAlive; } }

        public void Start()
        {
            if (_thread != null) throw new InvalidOperationException("the worker was already started");
            _thread = new Thread(Run) { IsBackground = true, Name = "machinima-bridge session" };
            _thread.Start();
        }

        private void Run()
        {
            while (!_stopRequested)
            {
                try
                {
                    _session.Poll(_maxWaitMs);
                }
                catch (Exception e)
                {
                    // Never let the thread die silently: log, pause, go on.
                    BridgeLog.Error("session worker error: " + e);
                    Thread.Sleep(100);
                }
            }
            try
            {
                _session.Shutdown(_stopReason);
            }
            catch (Exception e)
            {
                BridgeLog.Error("error while closing the session: " + e.Message);
            }
        }

        /// <summary>Say BYE, close, and wait at most <paramref name="timeoutMs"/> for the thread; true when it ended.</summary>
        public bool Stop(string reason, int timeoutMs = 1000)
        {
            _stopReason = reason ?? "engine stopped";
            _stopRequested = true;
            _transport.Wake();
            Thread t = _thread;
            if (t == null) return true;
            bool ended = t.Join(timeoutMs);
            if (!ended) BridgeLog.Warning("session thread did not end within " + timeoutMs + " ms; leaving it to finish in the background");
            return ended;
        }
    }
}
