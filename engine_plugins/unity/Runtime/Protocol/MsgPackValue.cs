// One decoded msgpack value, typed the way protocol v1 needs it (docs/protocol.md, section 3).
//
// Integers and floats stay distinct (an integer field rejects a float), integers keep their
// full 64-bit range (uint64 values above long.MaxValue included), and maps keep their keys
// in wire order so a received free-form map (params, applied, stage_us) re-encodes unchanged.
// Pure C#: no UnityEngine dependency, so it compiles and is tested outside the editor.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace MachinimaBridge.Protocol
{
    public enum MsgPackType
    {
        Nil,
        Bool,
        Int,
        Float,
        Str,
        Bin,
        Array,
        Map,
        Ext,
    }

    public sealed class MsgPackValue : IEquatable<MsgPackValue>
    {
        public static readonly MsgPackValue Nil = new MsgPackValue(MsgPackType.Nil);
        public static readonly MsgPackValue True = new MsgPackValue(MsgPackType.Bool) { _bool = true };
        public static readonly MsgPackValue False = new MsgPackValue(MsgPackType.Bool) { _bool = false };

        private bool _bool;
        private long _int;           // the value when it fits a long
        private ulong _bigUnsigned;  // the value when it is above long.MaxValue (IsBigUnsigned)
        private bool _isBigUnsigned;
        private double _float;
        private string _str;
        private byte[] _bytes;       // Bin payload, or Ext payload
        private sbyte _extType;
        private List<MsgPackValue> _array;
        private MsgPackMap _map;

        public MsgPackType Type { get; private set; }

        private MsgPackValue(MsgPackType type)
        {
            Type = type;
        }

        public static MsgPackValue From(bool value)
        {
            return value ? True : False;
        }

        public static MsgPackValue From(long value)
        {
            return new MsgPackValue(MsgPackType.Int) { _int = value };
        }

        public static MsgPackValue From(ulong value)
        {
            if (value <= long.MaxValue)
            {
                return From((long)value);
            }
            return new MsgPackValue(MsgPackType.Int) { _bigUnsigned = value, _isBigUnsigned = true };
        }

        public static MsgPackValue From(double value)
        {
            return new MsgPackValue(MsgPackType.Float) { _float = value };
        }

        public static MsgPackValue From(string value)
        {
            if (value == null) throw new ArgumentNullException("value");
            return new MsgPackValue(MsgPackType.Str) { _str = value };
        }

        public static MsgPackValue FromBin(byte[] value)
        {
            if (value == null) throw new ArgumentNullException("value");
            return new MsgPackValue(MsgPackType.Bin) { _bytes = value };
        }

        public static MsgPackValue FromExt(sbyte extType, byte[] data)
        {
            return new MsgPackValue(MsgPackType.Ext) { _extType = extType, _bytes = data };
        }

        public static MsgPackValue From(List<MsgPackValue> items)
        {
            if (items == null) throw new ArgumentNullException("items");
            return new MsgPackValue(MsgPackType.Array) { _array = items };
        }

        public static MsgPackValue From(MsgPackMap map)
        {
            if (map == null) throw new ArgumentNullException("map");
            return new MsgPackValue(MsgPackType.Map) { _map = map };
        }

        public static MsgPackValue FromDoubles(IList<double> values)
        {
            var items = new List<MsgPackValue>(values.Count);
            foreach (double v in values) items.Add(From(v));
            return From(items);
        }

        public static MsgPackValue FromStrings(IList<string> values)
        {
            var items = new List<MsgPackValue>(values.Count);
            foreach (string v in values) items.Add(From(v));
            return From(items);
        }

        public bool IsNil { get { return Type == MsgPackType.Nil; } }
        public bool IsInteger { get { return Type == MsgPackType.Int; } }
        public bool IsFloat { get { return Type == MsgPackType.Float; } }
        public bool IsNumber { get { return Type == MsgPackType.Int || Type == MsgPackType.Float; } }

        /// <summary>True for an integer above long.MaxValue (only uint64 on the wire can hold one).</summary>
        public bool IsBigUnsigned { get { return Type == MsgPackType.Int && _isBigUnsigned; } }

        public bool AsBool
        {
            get { Expect(MsgPackType.Bool); return _bool; }
        }

        /// <summary>The integer as a long; throws for a uint64 above long.MaxValue (check IsBigUnsigned).</summary>
        public long AsLong
        {
            get
            {
                Expect(MsgPackType.Int);
                if (_isBigUnsigned) throw new OverflowException("integer " + _bigUnsigned + " does not fit a long");
                return _int;
            }
        }

        public ulong AsBigUnsigned
        {
            get { Expect(MsgPackType.Int); return _isBigUnsigned ? _bigUnsigned : (ulong)_int; }
        }

        /// <summary>The value as a double: floats as they are, integers converted.</summary>
        public double AsDouble
        {
            get
            {
                if (Type == MsgPackType.Float) return _float;
                Expect(MsgPackType.Int);
                return _isBigUnsigned ? (double)_bigUnsigned : (double)_int;
            }
        }

        public string AsString
        {
            get { Expect(MsgPackType.Str); return _str; }
        }

        public byte[] AsBytes
        {
            get
            {
                if (Type != MsgPackType.Bin && Type != MsgPackType.Ext) Expect(MsgPackType.Bin);
                return _bytes;
            }
        }

        public sbyte ExtType
        {
            get { Expect(MsgPackType.Ext); return _extType; }
        }

        public List<MsgPackValue> AsArray
        {
            get { Expect(MsgPackType.Array); return _array; }
        }

        public MsgPackMap AsMap
        {
            get { Expect(MsgPackType.Map); return _map; }
        }

        private void Expect(MsgPackType type)
        {
            if (Type != type)
            {
                throw new InvalidOperationException("msgpack value is " + TypeName(Type) + ", not " + TypeName(type));
            }
        }

        /// <summary>Name of a msgpack type as error messages show it ("an integer", "a string", ...).</summary>
        public static string TypeName(MsgPackType type)
        {
            switch (type)
            {
                case MsgPackType.Nil: return "nil";
                case MsgPackType.Bool: return "a boolean";
                case MsgPackType.Int: return "an integer";
                case MsgPackType.Float: return "a float";
                case MsgPackType.Str: return "a string";
                case MsgPackType.Bin: return "binary";
                case MsgPackType.Array: return "an array";
                case MsgPackType.Map: return "a map";
                default: return "an ext value";
            }
        }

        /// <summary>Structural, type-sensitive equality: 1 (integer) differs from 1.0 (float); map order counts.</summary>
        public bool Equals(MsgPackValue other)
        {
            if (ReferenceEquals(other, null)) return false;
            if (ReferenceEquals(this, other)) return true;
            if (Type != other.Type) return false;
            switch (Type)
            {
                case MsgPackType.Nil: return true;
                case MsgPackType.Bool: return _bool == other._bool;
                case MsgPackType.Int:
                    return _isBigUnsigned == other._isBigUnsigned && _int == other._int && _bigUnsigned == other._bigUnsigned;
                case MsgPackType.Float:
                    return _float.Equals(other._float);
                case MsgPackType.Str: return string.Equals(_str, other._str, StringComparison.Ordinal);
                case MsgPackType.Bin: return BytesEqual(_bytes, other._bytes);
                case MsgPackType.Ext: return _extType == other._extType && BytesEqual(_bytes, other._bytes);
                case MsgPackType.Array:
                    if (_array.Count != other._array.Count) return false;
                    for (int i = 0; i < _array.Count; i++)
                    {
                        if (!_array[i].Equals(other._array[i])) return false;
                    }
                    return true;
                default:
                    return _map.Equals(other._map);
            }
        }

        public override bool Equals(object obj)
        {
            return Equals(obj as MsgPackValue);
        }

        public override int GetHashCode()
        {
            switch (Type)
            {
                case MsgPackType.Bool: return _bool ? 1 : 2;
                case MsgPackType.Int: return (_isBigUnsigned ? _bigUnsigned.GetHashCode() : _int.GetHashCode()) ^ 0x1000;
                case MsgPackType.Float: return _float.GetHashCode() ^ 0x2000;
                case MsgPackType.Str: return _str.GetHashCode();
                case MsgPackType.Array: return _array.Count ^ 0x3000;
                case MsgPackType.Map: return _map.Count ^ 0x4000;
                default: return (int)Type;
            }
        }

        private static bool BytesEqual(byte[] a, byte[] b)
        {
            if (a.Length != b.Length) return false;
            for (int i = 0; i < a.Length; i++)
            {
                if (a[i] != b[i]) return false;
            }
            return true;
        }

        /// <summary>A JSON-like rendering for logs and test failures (floats always show a '.' or exponent).</summary>
        public override string ToString()
        {
            var sb = new StringBuilder();
            AppendTo(sb);
            return sb.ToString();
        }

        internal void AppendTo(StringBuilder sb)
        {
            switch (Type)
            {
                case MsgPackType.Nil: sb.Append("nil"); break;
                case MsgPackType.Bool: sb.Append(_bool ? "true" : "false"); break;
                case MsgPackType.Int:
                    sb.Append(_isBigUnsigned ? _bigUnsigned.ToString(CultureInfo.InvariantCulture) : _int.ToString(CultureInfo.InvariantCulture));
                    break;
                case MsgPackType.Float:
                    string f = _float.ToString("R", CultureInfo.InvariantCulture);
                    if (f.IndexOf('.') < 0 && f.IndexOf('E') < 0 && f.IndexOf('N') < 0 && f.IndexOf('I') < 0) f += ".0";
                    sb.Append(f);
                    break;
                case MsgPackType.Str: sb.Append('"').Append(_str.Replace("\"", "\\\"")).Append('"'); break;
                case MsgPackType.Bin: sb.Append("bin(").Append(_bytes.Length).Append(')'); break;
                case MsgPackType.Ext: sb.Append("ext(").Append(_extType).Append(", ").Append(_bytes.Length).Append(')'); break;
                case MsgPackType.Array:
                    sb.Append('[');
                    for (int i = 0; i < _array.Count; i++)
                    {
                        if (i > 0) sb.Append(", ");
                        _array[i].AppendTo(sb);
                    }
                    sb.Append(']');
                    break;
                default:
                    _map.AppendTo(sb);
                    break;
            }
        }
    }
}
