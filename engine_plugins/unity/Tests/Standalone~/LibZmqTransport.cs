// IMessageTransport over the system's libzmq (Debian libzmq5) through P/Invoke, so the session
// logic runs against the real Python server outside Unity. Inside Unity the package uses
// NetMQ (Runtime/Components/NetMqTransport.cs); both speak ZMTP to the same ROUTER.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using MachinimaBridge.Core;

namespace MachinimaBridge.Standalone
{
    public sealed class LibZmqTransport : IMessageTransport
    {
        private const string Lib = "libzmq.so.5";
        private const int ZMQ_PAIR = 0;
        private const int ZMQ_DEALER = 5;
        private const int ZMQ_LINGER = 17;
        private const int ZMQ_SNDHWM = 23;
        private const int ZMQ_RCVHWM = 24;
        private const int ZMQ_DONTWAIT = 1;
        private const int ZMQ_SNDMORE = 2;
        private const short ZMQ_POLLIN = 1;
        private const int EAGAIN = 11;
        private const int EINTR = 4;

        [StructLayout(LayoutKind.Sequential)]
        private struct PollItem
        {
            public IntPtr Socket;
            public int Fd;
            public short Events;
            public short Revents;
        }

        [DllImport(Lib)] private static extern IntPtr zmq_ctx_new();
        [DllImport(Lib)] private static extern int zmq_ctx_term(IntPtr ctx);
        [DllImport(Lib)] private static extern IntPtr zmq_socket(IntPtr ctx, int type);
        [DllImport(Lib)] private static extern int zmq_close(IntPtr socket);
        [DllImport(Lib)] private static extern int zmq_setsockopt(IntPtr socket, int option, ref int value, UIntPtr size);
        [DllImport(Lib)] private static extern int zmq_connect(IntPtr socket, string endpoint);
        [DllImport(Lib)] private static extern int zmq_bind(IntPtr socket, string endpoint);
        [DllImport(Lib)] private static extern int zmq_send(IntPtr socket, byte[] buffer, UIntPtr length, int flags);
        [DllImport(Lib)] private static extern int zmq_msg_init(IntPtr msg);
        [DllImport(Lib)] private static extern int zmq_msg_recv(IntPtr msg, IntPtr socket, int flags);
        [DllImport(Lib)] private static extern IntPtr zmq_msg_data(IntPtr msg);
        [DllImport(Lib)] private static extern UIntPtr zmq_msg_size(IntPtr msg);
        [DllImport(Lib)] private static extern int zmq_msg_more(IntPtr msg);
        [DllImport(Lib)] private static extern int zmq_msg_close(IntPtr msg);
        [DllImport(Lib)] private static extern int zmq_poll([In, Out] PollItem[] items, int count, long timeoutMs);
        [DllImport(Lib)] private static extern int zmq_errno();
        [DllImport(Lib)] private static extern IntPtr zmq_strerror(int errnum);

        private readonly IntPtr _ctx;
        private readonly IntPtr _wakeReceiver;
        private readonly IntPtr _wakeSender;
        private readonly object _wakeLock = new object();
        private readonly IntPtr _msg; // one zmq_msg_t (64 bytes), used by the worker thread only
        private readonly int _sendHighWatermark;
        private readonly PollItem[] _pollItems = new PollItem[2];
        private IntPtr _dealer = IntPtr.Zero;
        private bool _disposed;

        public LibZmqTransport(int sendHighWatermark = 4)
        {
            _sendHighWatermark = sendHighWatermark;
            _ctx = zmq_ctx_new();
            if (_ctx == IntPtr.Zero) throw Failure("zmq_ctx_new");
            string wakeEndpoint = "inproc://machinima-bridge-wake-" + Guid.NewGuid().ToString("N");
            _wakeReceiver = zmq_socket(_ctx, ZMQ_PAIR);
            Check(zmq_bind(_wakeReceiver, wakeEndpoint), "zmq_bind " + wakeEndpoint);
            _wakeSender = zmq_socket(_ctx, ZMQ_PAIR);
            Check(zmq_connect(_wakeSender, wakeEndpoint), "zmq_connect " + wakeEndpoint);
            SetInt(_wakeReceiver, ZMQ_LINGER, 0);
            SetInt(_wakeSender, ZMQ_LINGER, 0);
            _msg = Marshal.AllocHGlobal(64);
        }

        private static Exception Failure(string what)
        {
            int errno = zmq_errno();
            return new InvalidOperationException(what + " failed: " + Marshal.PtrToStringAnsi(zmq_strerror(errno)) + " (errno " + errno + ")");
        }

        private static void Check(int rc, string what)
        {
            if (rc != 0) throw Failure(what);
        }

        private static void SetInt(IntPtr socket, int option, int value)
        {
            Check(zmq_setsockopt(socket, option, ref value, (UIntPtr)4), "zmq_setsockopt " + option);
        }

        public bool IsOpen { get { return _dealer != IntPtr.Zero; } }

        public void Open(string endpoint)
        {
            Close(0);
            _dealer = zmq_socket(_ctx, ZMQ_DEALER);
            if (_dealer == IntPtr.Zero) throw Failure("zmq_socket(DEALER)");
            SetInt(_dealer, ZMQ_LINGER, 0);
            SetInt(_dealer, ZMQ_SNDHWM, _sendHighWatermark);
            SetInt(_dealer, ZMQ_RCVHWM, 64);
            if (zmq_connect(_dealer, endpoint) != 0)
            {
                Exception e = Failure("zmq_connect " + endpoint);
                zmq_close(_dealer);
                _dealer = IntPtr.Zero;
                throw e;
            }
        }

        public void Close(int lingerMs)
        {
            if (_dealer == IntPtr.Zero) return;
            SetInt(_dealer, ZMQ_LINGER, Math.Max(0, lingerMs));
            zmq_close(_dealer);
            _dealer = IntPtr.Zero;
        }

        /// <summary>
        /// Raised on the sending thread with every message libzmq accepted (the parts as sent), for probes
        /// that check what went on the wire; null (the default) costs nothing.
        /// </summary>
        public Action<IList<byte[]>> MessageSent;

        public bool TrySend(IList<byte[]> parts)
        {
            if (_dealer == IntPtr.Zero) return false;
            for (int i = 0; i < parts.Count; i++)
            {
                bool last = i == parts.Count - 1;
                // Only the first part can meet a full queue: once it is accepted the message is completed.
                int flags = (last ? 0 : ZMQ_SNDMORE) | (i == 0 ? ZMQ_DONTWAIT : 0);
                if (!SendPart(parts[i], flags))
                {
                    if (i == 0 && zmq_errno() == EAGAIN) return false;
                    throw Failure("zmq_send part " + i);
                }
            }
            Action<IList<byte[]>> sent = MessageSent;
            if (sent != null) sent(parts);
            return true;
        }

        private bool SendPart(byte[] data, int flags)
        {
            // zmq_send copies the bytes into a libzmq message. (Handing libzmq a pinned managed buffer with
            // zmq_msg_init_data and a free callback deadlocked under Mono when the I/O thread called back.)
            return zmq_send(_dealer, data, (UIntPtr)data.Length, flags) >= 0;
        }

        public List<byte[]> TryReceive()
        {
            if (_dealer == IntPtr.Zero) return null;
            List<byte[]> parts = null;
            while (true)
            {
                Check(zmq_msg_init(_msg), "zmq_msg_init");
                int flags = parts == null ? ZMQ_DONTWAIT : 0;
                int n = zmq_msg_recv(_msg, _dealer, flags);
                if (n < 0)
                {
                    int errno = zmq_errno();
                    zmq_msg_close(_msg);
                    if (parts == null && (errno == EAGAIN || errno == EINTR)) return null;
                    throw new InvalidOperationException("zmq_msg_recv failed (errno " + errno + ")");
                }
                var data = new byte[(int)zmq_msg_size(_msg)];
                if (data.Length > 0) Marshal.Copy(zmq_msg_data(_msg), data, 0, data.Length);
                bool more = zmq_msg_more(_msg) != 0;
                zmq_msg_close(_msg);
                if (parts == null) parts = new List<byte[]>(4);
                parts.Add(data);
                if (!more) return parts;
            }
        }

        public void WaitForActivity(int timeoutMs)
        {
            int count = 0;
            if (_dealer != IntPtr.Zero)
            {
                _pollItems[count++] = new PollItem { Socket = _dealer, Events = ZMQ_POLLIN };
            }
            _pollItems[count++] = new PollItem { Socket = _wakeReceiver, Events = ZMQ_POLLIN };
            int rc = zmq_poll(_pollItems, count, timeoutMs);
            if (rc < 0 && zmq_errno() != EINTR) throw Failure("zmq_poll");
            DrainWakeups();
        }

        private void DrainWakeups()
        {
            while (true)
            {
                Check(zmq_msg_init(_msg), "zmq_msg_init");
                int n = zmq_msg_recv(_msg, _wakeReceiver, ZMQ_DONTWAIT);
                zmq_msg_close(_msg);
                if (n < 0) return;
            }
        }

        public void Wake()
        {
            lock (_wakeLock)
            {
                if (_disposed) return;
                zmq_send(_wakeSender, new byte[0], UIntPtr.Zero, ZMQ_DONTWAIT);
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
            zmq_close(_wakeSender);
            zmq_close(_wakeReceiver);
            zmq_ctx_term(_ctx);
            Marshal.FreeHGlobal(_msg);
        }
    }
}
