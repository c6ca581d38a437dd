// Decodes part 0 of a message (one msgpack map) with the checks of docs/protocol.md, 3.1 and 8:
// any valid msgpack encoding of a value is accepted; empty input, truncation, bytes after the
// map, a non-map top level, a non-str or repeated key at any depth, an array or map above 4096
// entries, invalid UTF-8 or a header above 65536 bytes are MALFORMED_HEADER.
using System;
using System.Collections.Generic;
using System.Text;

namespace MachinimaBridge.Protocol
{
    public static class MsgPackReader
    {
        public const int MaxHeaderBytes = 65536;
        public const int MaxContainerEntries = 4096;
        public const int MaxNestingDepth = 512;

        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        /// <summary>Decode exactly one msgpack value filling <paramref name="data"/>; throws ProtocolException(MALFORMED_HEADER).</summary>
        public static MsgPackValue ReadSingleValue(byte[] data)
        {
            return ReadSingleValue(data, 0, data == null ? 0 : data.Length);
        }

        public static MsgPackValue ReadSingleValue(byte[] data, int offset, int count)
        {
            if (data == null || count == 0)
            {
                throw new ProtocolException(ErrorCode.MALFORMED_HEADER, "header part is empty");
            }
            if (count > MaxHeaderBytes)
            {
                throw new ProtocolException(ErrorCode.MALFORMED_HEADER,
                    "header part is " + count + " bytes, above the " + MaxHeaderBytes + "-byte limit");
            }
            var cursor = new Cursor(data, offset, offset + count);
            MsgPackValue value = cursor.ReadValue(0);
            if (cursor.Position != offset + count)
            {
                throw new ProtocolException(ErrorCode.MALFORMED_HEADER,
                    "header part has " + (offset + count - cursor.Position) + " bytes after the msgpack value");
            }
            return value;
        }

        private sealed class Cursor
        {
            private readonly byte[] _data;
            private readonly int _end;
            public int Position;

            public Cursor(byte[] data, int start, int end)
            {
                _data = data;
                Position = start;
                _end = end;
            }

            private static ProtocolException Malformed(string why)
            {
                return new ProtocolException(ErrorCode.MALFORMED_HEADER, "header part is not valid msgpack (" + why + ")");
            }

            private void Need(int count)
            {
                if (count < 0 || _end - Position < count)
                {
                    throw Malformed("truncated at byte " + Position + ": " + count + " more bytes needed");
                }
            }

            private byte U8()
            {
                Need(1);
                return _data[Position++];
            }

            private ushort U16()
            {
                Need(2);
                ushort v = (ushort)((_data[Position] << 8) | _data[Position + 1]);
                Position += 2;
                return v;
            }

            private uint U32()
            {
                Need(4);
                uint v = ((uint)_data[Position] << 24) | ((uint)_data[Position + 1] << 16)
                         | ((uint)_data[Position + 2] << 8) | _data[Position + 3];
                Position += 4;
                return v;
            }

            private ulong U64()
            {
                ulong hi = U32();
                ulong lo = U32();
                return (hi << 32) | lo;
            }

            private int Length32()
            {
                uint n = U32();
                if (n > int.MaxValue) throw Malformed("length " + n + " is too large");
                return (int)n;
            }

            private byte[] Bytes(int count)
            {
                Need(count);
                var b = new byte[count];
                Buffer.BlockCopy(_data, Position, b, 0, count);
                Position += count;
                return b;
            }

            private string Str(int count)
            {
                Need(count);
                string s;
                try
                {
                    s = StrictUtf8.GetString(_data, Position, count);
                }
                catch (DecoderFallbackException)
                {
                    throw Malformed("a string at byte " + Position + " is not valid UTF-8");
                }
                Position += count;
                return s;
            }

            public MsgPackValue ReadValue(int depth)
            {
                if (depth > MaxNestingDepth) throw Malformed("nested deeper than " + MaxNestingDepth + " levels");
                int at = Position;
                byte b = U8();
                if (b <= 0x7f) return MsgPackValue.From((long)b);
                if (b >= 0xe0) return MsgPackValue.From((long)(sbyte)b);
                if ((b & 0xf0) == 0x80) return ReadMap(b & 0x0f, depth);
                if ((b & 0xf0) == 0x90) return ReadArray(b & 0x0f, depth);
                if ((b & 0xe0) == 0xa0) return MsgPackValue.From(Str(b & 0x1f));
                switch (b)
                {
                    case 0xc0: return MsgPackValue.Nil;
                    case 0xc2: return MsgPackValue.False;
                    case 0xc3: return MsgPackValue.True;
                    case 0xc4: return MsgPackValue.FromBin(Bytes(U8()));
                    case 0xc5: return MsgPackValue.FromBin(Bytes(U16()));
                    case 0xc6: return MsgPackValue.FromBin(Bytes(Length32()));
                    case 0xc7: { int n = U8(); sbyte t = (sbyte)U8(); return MsgPackValue.FromExt(t, Bytes(n)); }
                    case 0xc8: { int n = U16(); sbyte t = (sbyte)U8(); return MsgPackValue.FromExt(t, Bytes(n)); }
                    case 0xc9: { int n = Length32(); sbyte t = (sbyte)U8(); return MsgPackValue.FromExt(t, Bytes(n)); }
                    case 0xca:
                    {
                        uint bits = U32();
                        float f = BitConverter.ToSingle(BitConverter.GetBytes(bits), 0);
                        return MsgPackValue.From((double)f);
                    }
                    case 0xcb: return MsgPackValue.From(BitConverter.Int64BitsToDouble((long)U64()));
                    case 0xcc: return MsgPackValue.From((long)U8());
                    case 0xcd: return MsgPackValue.From((long)U16());
                    case 0xce: return MsgPackValue.From((long)U32());
                    case 0xcf: return MsgPackValue.From(U64());
                    case 0xd0: return MsgPackValue.From((long)(sbyte)U8());
                    case 0xd1: return MsgPackValue.From((long)(short)U16());
                    case 0xd2: return MsgPackValue.From((long)(int)U32());
                    case 0xd3: return MsgPackValue.From((long)U64());
                    case 0xd4: { sbyte t = (sbyte)U8(); return MsgPackValue.FromExt(t, Bytes(1)); }
                    case 0xd5: { sbyte t = (sbyte)U8(); return MsgPackValue.FromExt(t, Bytes(2)); }
                    case 0xd6: { sbyte t = (sbyte)U8(); return MsgPackValue.FromExt(t, Bytes(4)); }
                    case 0xd7: { sbyte t = (sbyte)U8(); return MsgPackValue.FromExt(t, Bytes(8)); }
                    case 0xd8: { sbyte t = (sbyte)U8(); return MsgPackValue.FromExt(t, Bytes(16)); }
                    case 0xd9: return MsgPackValue.From(Str(U8()));
                    case 0xda: return MsgPackValue.From(Str(U16()));
                    case 0xdb: return MsgPackValue.From(Str(Length32()));
                    case 0xdc: return ReadArray(U16(), depth);
                    case 0xdd: return ReadArray(Length32(), depth);
                    case 0xde: return ReadMap(U16(), depth);
                    case 0xdf: return ReadMap(Length32(), depth);
                    default:
                        throw Malformed("byte 0x" + b.ToString("x2") + " at " + at + " starts no msgpack value");
                }
            }

            private MsgPackValue ReadArray(int count, int depth)
            {
                if (count > MaxContainerEntries)
                {
                    throw Malformed("an array has " + count + " entries, above " + MaxContainerEntries);
                }
                // Each entry takes at least one byte: refuse counts the remaining bytes cannot hold.
                Need(count);
                var items = new List<MsgPackValue>(count);
                for (int i = 0; i < count; i++) items.Add(ReadValue(depth + 1));
                return MsgPackValue.From(items);
            }

            private MsgPackValue ReadMap(int count, int depth)
            {
                if (count > MaxContainerEntries)
                {
                    throw Malformed("a map has " + count + " entries, above " + MaxContainerEntries);
                }
                Need(2 * count);
                var map = new MsgPackMap(count);
                for (int i = 0; i < count; i++)
                {
                    int keyAt = Position;
                    MsgPackValue key = ReadValue(depth + 1);
                    if (key.Type != MsgPackType.Str)
                    {
                        throw Malformed("map key " + key + " at byte " + keyAt + " is not a string");
                    }
                    MsgPackValue value = ReadValue(depth + 1);
                    if (map.ContainsKey(key.AsString))
                    {
                        throw Malformed("a map repeats the key '" + key.AsString + "'");
                    }
                    map.Add(key.AsString, value);
                }
                return MsgPackValue.From(map);
            }
        }
    }
}
