// IMessageTransport over NetMQ (pure C# ZeroMQ): one DealerSocket, used only by the session's
// worker thread, plus an inproc PAIR pair so other threads can wake the worker's wait
// (NetMQSelector polls both). Settings follow docs/protocol.md section 1: linger 0, a small
// send high-water mark so frames never queue behind a slow link.
using System;
using System.Collections.Generic;
using MachinimaBridge.Core;
using NetMQ;
using NetMQ.Sockets;

namespace MachinimaBridge
{
    public sealed class NetMqTransport : IMessageTransport
    {
        private readonly int _sendHighWatermark;
        private readonly PairSocket _wakeReceiver;
        private readonly PairSocket _wakeSender;
        private readonly object _wakeLock = new object();
        private readonly NetMQSelector _selector = new NetMQSelector();
        private readonly NetMQSelector.Item[] _items = new NetMQSelector.Item[2];
        private DealerSocket _dealer;
        private bool _disposed;

        public NetMqTransport(int sendHighWatermark = 4)
        {
            NetMqLifetime.Acquire();
            _sendHighWatermark = sendHighWatermark;
            string wake = "inproc://machinima-bridge-wake-" + Guid.NewGuid().ToString("N");
            _wakeReceiver = new PairSocket();
            _wakeReceiver.Options.Linger = TimeSpan.Zero;
            _wakeReceiver.Bind(wake);
            _wakeSender = new PairSocket();
            _wakeSender.Options.Linger = TimeSpan.Zero;
            _wakeSender.Connect(wake);
        }

        public bool IsOpen { get { return _dealer != null; } }

        public void Open(string endpoint)
        {
            Close(0);
            var dealer = new DealerSocket();
            dealer.Options.Linger = TimeSpan.Zero;
            dealer.Options.SendHighWatermark = _sendHighWatermark;
            dealer.Options.ReceiveHighWatermark = 64;
            try
            {
                dealer.Connect(endpoint);
            }
            catch (Exception)
            {
                dealer.Dispose();
                throw;
            }
            _dealer = dealer;
        }

        public void Close(int lingerMs)
        {
            if (_dealer == null) return;
            _dealer.Options.Linger = TimeSpan.FromMilliseconds(Math.Max(0, lingerMs));
            _dealer.Dispose();
            _dealer = null;
        }

        public bool TrySend(IList<byte[]> parts)
        {
            if (_dealer == null) return false;
            var message = new NetMQMessage(parts.Count);
            // NetMQ keeps a reference to each buffer until it is written: callers never reuse them.
            foreach (byte[] part in parts) message.Append(part);
            return _dealer.TrySendMultipartMessage(TimeSpan.Zero, message);
        }

        public List<byte[]> TryReceive()
        {
            if (_dealer == null) return null;
            NetMQMessage message = null;
            if (!_dealer.TryReceiveMultipartMessage(TimeSpan.Zero, ref message)) return null;
            var parts = new List<byte[]>(message.FrameCount);
            foreach (NetMQFrame frame in message)
            {
                parts.Add(frame.MessageSize == frame.BufferSize ? frame.Buffer : frame.ToByteArray(true));
            }
            return parts;
        }

        public void WaitForActivity(int timeoutMs)
        {
            int count = 0;
            if (_dealer != null) _items[count++] = new NetMQSelector.Item(_dealer, PollEvents.PollIn);
            _items[count++] = new NetMQSelector.Item(_wakeReceiver, PollEvents.PollIn);
            _selector.Select(_items, count, timeoutMs);
            byte[] ignored;
            while (_wakeReceiver.TryReceiveFrameBytes(TimeSpan.Zero, out ignored))
            {
            }
        }

        public void Wake()
        {
            lock (_wakeLock)
            {
                if (_disposed) return;
                _wakeSender.TrySendFrame(TimeSpan.Zero, new byte[0]);
            }
        }

        public void Dispose()
        {
            lock (_wakeLock)
            {
                if (_disposed) return;
                _disposed = true;
            }
            Close(0);
            _wakeSender.Dispose();
            _wakeReceiver.Dispose();
            NetMqLifetime.Release();
        }
    }
}
