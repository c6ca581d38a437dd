// OSC 1.0 encoding for the VMC protocol: messages (address, type tags, int32 / float32 /
// string arguments, all big-endian and padded to 4 bytes) and bundles ("#bundle", a time tag,
// then size-prefixed elements).
using System;
using System.Collections.Generic;
using System.Text;

namespace MachinimaBridge.Core
{
    public sealed class OscMessage
    {
        public string Address;
        public readonly List<object> Arguments = new List<object>();

        public OscMessage(string address, params object[] arguments)
        {
            if (string.IsNullOrEmpty(address) || address[0] != '/')
            {
                throw new ArgumentException("an OSC address must start with '/', got '" + address + "'");
            }
            Address = address;
            foreach (object a in arguments) Add(a);
        }

        /// <summary>Add an int (sent as 'i'), a float (sent as 'f'; doubles are narrowed) or a string ('s').</summary>
        public OscMessage Add(object argument)
        {
            if (argument is int || argument is float || argument is string)
            {
                Arguments.Add(argument);
            }
            else if (argument is double)
            {
                Arguments.Add((float)(double)argument);
            }
            else
            {
                throw new ArgumentException("OSC argument of type " + (argument == null ? "null" : argument.GetType().Name)
                                            + " is not supported (int, float, double or string)");
            }
            return this;
        }
    }

    public sealed class OscPacketWriter
    {
        private static readonly byte[] BundleTag = Encoding.ASCII.GetBytes("#bundle\0");

        private readonly List<byte> _bytes = new List<byte>(1500);

        public int Length { get { return _bytes.Count; } }

        public byte[] ToArray()
        {
            return _bytes.ToArray();
        }

        public void Clear()
        {
            _bytes.Clear();
        }

        public static byte[] EncodeMessage(OscMessage message)
        {
            var w = new OscPacketWriter();
            w.WriteMessage(message);
            return w.ToArray();
        }

        /// <summary>A bundle with the time tag "immediately" (1) holding the given encoded messages.</summary>
        public static byte[] EncodeBundle(IList<byte[]> encodedMessages)
        {
            var w = new OscPacketWriter();
            w._bytes.AddRange(BundleTag);
            w.BigEndian(0UL, 4);
            w.BigEndian(1UL, 4);
            foreach (byte[] m in encodedMessages)
            {
                w.BigEndian((ulong)m.Length, 4);
                w._bytes.AddRange(m);
            }
            return w.ToArray();
        }

        /// <summary>Bytes a message of this size takes inside a bundle (its size prefix included).</summary>
        public static int BundleElementBytes(byte[] encodedMessage)
        {
            return 4 + encodedMessage.Length;
        }

        public const int BundleHeaderBytes = 16;

        public void WriteMessage(OscMessage message)
        {
            PaddedString(message.Address);
            var tags = new StringBuilder(",");
            foreach (object a in message.Arguments)
            {
                tags.Append(a is int ? 'i' : a is float ? 'f' : 's');
            }
            PaddedString(tags.ToString());
            foreach (object a in message.Arguments)
            {
                if (a is int)
                {
                    BigEndian(unchecked((uint)(int)a), 4);
                }
                else if (a is float)
                {
                    byte[] b = BitConverter.GetBytes((float)a);
                    if (BitConverter.IsLittleEndian) Array.Reverse(b);
                    _bytes.AddRange(b);
                }
                else
                {
                    PaddedString((string)a);
                }
            }
        }

        private void PaddedString(string s)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(s);
            if (Array.IndexOf(utf8, (byte)0) >= 0) throw new ArgumentException("an OSC string cannot hold a NUL byte");
            _bytes.AddRange(utf8);
            int pad = 4 - utf8.Length % 4; // at least one NUL terminator
            for (int i = 0; i < pad; i++) _bytes.Add(0);
        }

        private void BigEndian(ulong value, int bytes)
        {
            for (int i = bytes - 1; i >= 0; i--) _bytes.Add((byte)((value >> (8 * i)) & 0xff));
        }
    }
}
