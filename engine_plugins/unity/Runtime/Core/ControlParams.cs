// Building CONTROL "params" maps from ordinary C# values, refusing what the protocol refuses
// (docs/protocol.md, 6.5): a value is an integer, a float, a bool, a string or an array of numbers.
using System;
using System.Collections.Generic;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Core
{
    public static class ControlParams
    {
        /// <summary>The wire value of a parameter; throws ArgumentException naming the parameter and its type.</summary>
        public static MsgPackValue ToValue(string name, object value)
        {
            if (value is bool) return MsgPackValue.From((bool)value);
            if (value is int) return MsgPackValue.From((long)(int)value);
            if (value is long) return MsgPackValue.From((long)value);
            if (value is float) return MsgPackValue.From((double)(float)value);
            if (value is double) return MsgPackValue.From((double)value);
            if (value is string) return MsgPackValue.From((string)value);
            var floats = value as IList<float>;
            if (floats != null)
            {
                var items = new List<MsgPackValue>(floats.Count);
                foreach (float f in floats) items.Add(MsgPackValue.From((double)f));
                return MsgPackValue.From(items);
            }
            var doubles = value as IList<double>;
            if (doubles != null) return MsgPackValue.FromDoubles(doubles);
            var ints = value as IList<int>;
            if (ints != null)
            {
                var items = new List<MsgPackValue>(ints.Count);
                foreach (int i in ints) items.Add(MsgPackValue.From((long)i));
                return MsgPackValue.From(items);
            }
            throw new ArgumentException("parameter '" + name + "' has a value of type "
                                        + (value == null ? "null" : value.GetType().Name)
                                        + "; CONTROL takes bool, int, long, float, double, string or an array of numbers");
        }

        public static MsgPackMap Single(string name, object value)
        {
            return new MsgPackMap(1).Add(name, ToValue(name, value));
        }

        public static MsgPackMap From(IEnumerable<KeyValuePair<string, object>> values)
        {
            var map = new MsgPackMap();
            foreach (KeyValuePair<string, object> e in values) map.Add(e.Key, ToValue(e.Key, e.Value));
            return map;
        }
    }
}
