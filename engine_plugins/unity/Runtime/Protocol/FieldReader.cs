// Reads typed fields of one header map, naming "where.field" in every error
// (docs/protocol.md, 3.1): an integer field takes only msgpack integers, a float field takes
// floats or integers, a str field only str (at most 1024 code points), a bool field only
// true/false, and nil is never a value. Unknown keys are ignored.
using System.Collections.Generic;

namespace MachinimaBridge.Protocol
{
    public sealed class FieldReader
    {
        public const int MaxStringChars = 1024;

        public MsgPackMap Map { get; private set; }
        public string Where { get; private set; }
        public string Kind { get; private set; }

        public FieldReader(MsgPackMap map, string where, string kind)
        {
            Map = map;
            Where = where;
            Kind = kind;
        }

        /// <summary>A reader over a value that must be a map (nested structures such as streams[i]).</summary>
        public static FieldReader Of(MsgPackValue value, string where, string kind)
        {
            if (value.Type != MsgPackType.Map)
            {
                throw new ProtocolException(ErrorCode.BAD_FIELD,
                    where + " must be a map, got " + MsgPackValue.TypeName(value.Type), kind);
            }
            return new FieldReader(value.AsMap, where, kind);
        }

        public ProtocolException Fail(string message)
        {
            return new ProtocolException(ErrorCode.BAD_FIELD, message, Kind);
        }

        private MsgPackValue Get(string name, MsgPackType type, bool required)
        {
            MsgPackValue item;
            if (!Map.TryGetValue(name, out item))
            {
                if (required) throw Fail(Where + "." + name + " is missing");
                return null;
            }
            bool ok = item.Type == type || (type == MsgPackType.Float && item.Type == MsgPackType.Int);
            if (!ok)
            {
                throw Fail(Where + "." + name + " must be " + MsgPackValue.TypeName(type == MsgPackType.Float ? MsgPackType.Float : type)
                           + ", got " + MsgPackValue.TypeName(item.Type));
            }
            return item;
        }

        public bool Has(string name)
        {
            return Map.ContainsKey(name);
        }

        private long CheckRange(string name, MsgPackValue item, long lo, long hi)
        {
            if (item.IsBigUnsigned)
            {
                throw Fail(Where + "." + name + " = " + item + " is outside " + lo + ".." + hi);
            }
            long v = item.AsLong;
            if (v < lo || v > hi) throw Fail(Where + "." + name + " = " + v + " is outside " + lo + ".." + hi);
            return v;
        }

        public long Int(string name, long lo = long.MinValue, long hi = long.MaxValue)
        {
            return CheckRange(name, Get(name, MsgPackType.Int, true), lo, hi);
        }

        public long? OptInt(string name, long lo = long.MinValue, long hi = long.MaxValue)
        {
            MsgPackValue item = Get(name, MsgPackType.Int, false);
            if (item == null) return null;
            return CheckRange(name, item, lo, hi);
        }

        public long IntOr(string name, long fallback, long lo = long.MinValue, long hi = long.MaxValue)
        {
            long? v = OptInt(name, lo, hi);
            return v.HasValue ? v.Value : fallback;
        }

        public double Float(string name)
        {
            return Get(name, MsgPackType.Float, true).AsDouble;
        }

        public double? OptFloat(string name)
        {
            MsgPackValue item = Get(name, MsgPackType.Float, false);
            if (item == null) return null;
            return item.AsDouble;
        }

        public double FloatOr(string name, double fallback)
        {
            double? v = OptFloat(name);
            return v.HasValue ? v.Value : fallback;
        }

        public string Str(string name, bool checkLength = true)
        {
            return CheckLength(name, Get(name, MsgPackType.Str, true).AsString, checkLength);
        }

        public string OptStr(string name)
        {
            MsgPackValue item = Get(name, MsgPackType.Str, false);
            return item == null ? null : CheckLength(name, item.AsString, true);
        }

        public string StrOr(string name, string fallback)
        {
            return OptStr(name) ?? fallback;
        }

        private string CheckLength(string name, string value, bool check)
        {
            if (check && CodePoints(value) > MaxStringChars)
            {
                throw Fail(Where + "." + name + " is longer than " + MaxStringChars + " characters");
            }
            return value;
        }

        /// <summary>Unicode code points in a string (a surrogate pair counts once).</summary>
        public static int CodePoints(string s)
        {
            int n = 0;
            for (int i = 0; i < s.Length; i++)
            {
                if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
                n++;
            }
            return n;
        }

        public bool Bool(string name)
        {
            return Get(name, MsgPackType.Bool, true).AsBool;
        }

        public bool BoolOr(string name, bool fallback)
        {
            MsgPackValue item = Get(name, MsgPackType.Bool, false);
            return item == null ? fallback : item.AsBool;
        }

        /// <summary>An array; more than <paramref name="maxLen"/> entries is LIMIT_EXCEEDED.</summary>
        public List<MsgPackValue> List(string name, int maxLen = MsgPackReader.MaxContainerEntries)
        {
            return CheckCount(name, Get(name, MsgPackType.Array, true).AsArray, maxLen);
        }

        public List<MsgPackValue> OptList(string name, int maxLen = MsgPackReader.MaxContainerEntries)
        {
            MsgPackValue item = Get(name, MsgPackType.Array, false);
            return item == null ? null : CheckCount(name, item.AsArray, maxLen);
        }

        private List<MsgPackValue> CheckCount(string name, List<MsgPackValue> items, int maxLen)
        {
            if (items.Count > maxLen)
            {
                throw new ProtocolException(ErrorCode.LIMIT_EXCEEDED,
                    Where + "." + name + " has " + items.Count + " entries, above " + maxLen, Kind);
            }
            return items;
        }

        public MsgPackMap MapField(string name)
        {
            return Get(name, MsgPackType.Map, true).AsMap;
        }

        public MsgPackMap OptMapField(string name)
        {
            MsgPackValue item = Get(name, MsgPackType.Map, false);
            return item == null ? null : item.AsMap;
        }

        /// <summary>An array of exactly <paramref name="count"/> numbers (integers converted to doubles).</summary>
        public double[] Floats(string name, int count)
        {
            List<MsgPackValue> items = List(name);
            if (items.Count != count) throw Fail(Where + "." + name + " must be an array of " + count + " numbers");
            var result = new double[count];
            for (int i = 0; i < count; i++)
            {
                if (!items[i].IsNumber) throw Fail(Where + "." + name + " must be an array of " + count + " numbers");
                result[i] = items[i].AsDouble;
            }
            return result;
        }

        /// <summary>An array of strings, each at most 1024 characters (absent and optional: empty).</summary>
        public List<string> Strings(string name, bool required)
        {
            List<MsgPackValue> items = required ? List(name) : OptList(name);
            var result = new List<string>();
            if (items == null) return result;
            foreach (MsgPackValue item in items)
            {
                if (item.Type != MsgPackType.Str || CodePoints(item.AsString) > MaxStringChars)
                {
                    throw Fail(Where + "." + name + " must be an array of strings of at most " + MaxStringChars + " characters");
                }
                result.Add(item.AsString);
            }
            return result;
        }

        public FieldReader Sub(string name, bool required)
        {
            MsgPackMap map = required ? MapField(name) : OptMapField(name);
            return map == null ? null : new FieldReader(map, Where + "." + name, Kind);
        }
    }
}
