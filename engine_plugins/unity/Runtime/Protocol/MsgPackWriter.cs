// Canonical msgpack encoding of protocol v1 (docs/protocol.md, 3.2): integers in the smallest
// form, floats always float64, strings/arrays/maps in the smallest form, keys in the order the
// map holds them. This is what makes golden vectors re-encode byte for byte.
using System;
using System.Collections.Generic;
using System.Text;

namespace MachinimaBridge.Protocol
{
    public sealed class MsgPackWriter
    {
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false, true);

        private byte[] _buffer;
        private int _length;

        public MsgPackWriter(int initialCapacity = 512)
        {
            _buffer = new byte[Math.Max(16, initialCapacity)];
        }

        public int Length { get { return _length; } }

        public void Reset()
        {
            _length = 0;
        }

        /// <summary>A copy of the bytes written so far.</summary>
        public byte[] ToArray()
        {
            var result = new byte[_length];
            Buffer.BlockCopy(_buffer, 0, result, 0, _length);
            return result;
        }

        public static byte[] Encode(MsgPackValue value)
        {
            var w = new MsgPackWriter();
            w.Write(value);
            return w.ToArray();
        }

        public static byte[] Encode(MsgPackMap map)
        {
            var w = new MsgPackWriter();
            w.Write(map);
            return w.ToArray();
        }

        private void Ensure(int extra)
        {
            int need = _length + extra;
            if (need <= _buffer.Length) return;
            int size = _buffer.Length;
            while (size < need) size *= 2;
            Array.Resize(ref _buffer, size);
        }

        private void Byte(byte b)
        {
            Ensure(1);
            _buffer[_length++] = b;
        }

        private void BigEndian(ulong value, int bytes)
        {
            Ensure(bytes);
            for (int i = bytes - 1; i >= 0; i--)
            {
                _buffer[_length + i] = (byte)(value & 0xff);
                value >>= 8;
            }
            _length += bytes;
        }

        private void Raw(byte[] data, int offset, int count)
        {
            Ensure(count);
            Buffer.BlockCopy(data, offset, _buffer, _length, count);
            _length += count;
        }

        public void WriteNil()
        {
            Byte(0xc0);
        }

        public void Write(bool value)
        {
            Byte(value ? (byte)0xc3 : (byte)0xc2);
        }

        public void Write(long value)
        {
            if (value >= 0)
            {
                Write((ulong)value);
                return;
            }
            if (value >= -32) { Byte((byte)(sbyte)value); return; }
            if (value >= sbyte.MinValue) { Byte(0xd0); BigEndian((ulong)value, 1); return; }
            if (value >= short.MinValue) { Byte(0xd1); BigEndian((ulong)value, 2); return; }
            if (value >= int.MinValue) { Byte(0xd2); BigEndian((ulong)value, 4); return; }
            Byte(0xd3);
            BigEndian((ulong)value, 8);
        }

        public void Write(ulong value)
        {
            if (value <= 0x7f) { Byte((byte)value); return; }
            if (value <= byte.MaxValue) { Byte(0xcc); BigEndian(value, 1); return; }
            if (value <= ushort.MaxValue) { Byte(0xcd); BigEndian(value, 2); return; }
            if (value <= uint.MaxValue) { Byte(0xce); BigEndian(value, 4); return; }
            Byte(0xcf);
            BigEndian(value, 8);
        }

        /// <summary>Always float64 (0xcb), even for integral values: floats are never written as integers.</summary>
        public void Write(double value)
        {
            Byte(0xcb);
            BigEndian((ulong)BitConverter.DoubleToInt64Bits(value), 8);
        }

        public void Write(string value)
        {
            byte[] bytes = Utf8.GetBytes(value);
            int n = bytes.Length;
            if (n <= 31) Byte((byte)(0xa0 | n));
            else if (n <= byte.MaxValue) { Byte(0xd9); BigEndian((ulong)n, 1); }
            else if (n <= ushort.MaxValue) { Byte(0xda); BigEndian((ulong)n, 2); }
            else { Byte(0xdb); BigEndian((ulong)n, 4); }
            Raw(bytes, 0, n);
        }

        public void WriteBin(byte[] value)
        {
            int n = value.Length;
            if (n <= byte.MaxValue) { Byte(0xc4); BigEndian((ulong)n, 1); }
            else if (n <= ushort.MaxValue) { Byte(0xc5); BigEndian((ulong)n, 2); }
            else { Byte(0xc6); BigEndian((ulong)n, 4); }
            Raw(value, 0, n);
        }

        public void WriteArrayHeader(int count)
        {
            if (count <= 15) Byte((byte)(0x90 | count));
            else if (count <= ushort.MaxValue) { Byte(0xdc); BigEndian((ulong)count, 2); }
            else { Byte(0xdd); BigEndian((ulong)count, 4); }
        }

        public void WriteMapHeader(int count)
        {
            if (count <= 15) Byte((byte)(0x80 | count));
            else if (count <= ushort.MaxValue) { Byte(0xde); BigEndian((ulong)count, 2); }
            else { Byte(0xdf); BigEndian((ulong)count, 4); }
        }

        private void WriteExt(sbyte type, byte[] data)
        {
            int n = data.Length;
            switch (n)
            {
                case 1: Byte(0xd4); break;
                case 2: Byte(0xd5); break;
                case 4: Byte(0xd6); break;
                case 8: Byte(0xd7); break;
                case 16: Byte(0xd8); break;
                default:
                    if (n <= byte.MaxValue) { Byte(0xc7); BigEndian((ulong)n, 1); }
                    else if (n <= ushort.MaxValue) { Byte(0xc8); BigEndian((ulong)n, 2); }
                    else { Byte(0xc9); BigEndian((ulong)n, 4); }
                    break;
            }
            Byte((byte)type);
            Raw(data, 0, n);
        }

        public void Write(MsgPackMap map)
        {
            WriteMapHeader(map.Count);
            foreach (KeyValuePair<string, MsgPackValue> e in map)
            {
                Write(e.Key);
                Write(e.Value);
            }
        }

        public void Write(MsgPackValue value)
        {
            switch (value.Type)
            {
                case MsgPackType.Nil: WriteNil(); break;
                case MsgPackType.Bool: Write(value.AsBool); break;
                case MsgPackType.Int:
                    if (value.IsBigUnsigned) Write(value.AsBigUnsigned);
                    else Write(value.AsLong);
                    break;
                case MsgPackType.Float: Write(value.AsDouble); break;
                case MsgPackType.Str: Write(value.AsString); break;
                case MsgPackType.Bin: WriteBin(value.AsBytes); break;
                case MsgPackType.Ext: WriteExt(value.ExtType, value.AsBytes); break;
                case MsgPackType.Array:
                    List<MsgPackValue> items = value.AsArray;
                    WriteArrayHeader(items.Count);
                    for (int i = 0; i < items.Count; i++) Write(items[i]);
                    break;
                default:
                    Write(value.AsMap);
                    break;
            }
        }
    }
}
