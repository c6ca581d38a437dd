// The seam between the session logic and a ZeroMQ implementation. In Unity it is NetMQ
// (NetMqTransport); outside the engine the tests use libzmq through P/Invoke. One transport
// holds at most one DEALER socket; only the session's worker thread calls it, except Wake().
using System;
using System.Collections.Generic;

namespace MachinimaBridge.Core
{
    public interface IMessageTransport : IDisposable
    {
        /// <summary>Open a new DEALER socket connected to <paramref name="endpoint"/> (closing any open one).</summary>
        void Open(string endpoint);

        /// <summary>
        /// Close the socket. Outgoing messages still queued get at most <paramref name="lingerMs"/> to leave
        /// (0: discarded at once); the call itself never blocks on the network.
        /// </summary>
        void Close(int lingerMs);

        bool IsOpen { get; }

        /// <summary>Send one multipart message without blocking; false when the send queue is full.</summary>
        bool TrySend(IList<byte[]> parts);

        /// <summary>One whole multipart message if one is ready now, else null.</summary>
        List<byte[]> TryReceive();

        /// <summary>Block up to <paramref name="timeoutMs"/> until a message can be received or Wake() is called.</summary>
        void WaitForActivity(int timeoutMs);

        /// <summary>Thread-safe: make a concurrent or the next WaitForActivity return at once.</summary>
        void Wake();
    }
}
