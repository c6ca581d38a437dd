// One JSON object per line on stdout: how the probe reports to the Python test that drives it.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace MachinimaBridge.Standalone
{
    public sealed class JsonLine
    {
        private readonly StringBuilder _sb = new StringBuilder("{");
        private bool _first = true;

        public JsonLine(string eventName)
        {
            Add("event", eventName);
        }

        private void Key(string key)
        {
            if (!_first) _sb.Append(", ");
            _first = false;
            AppendString(key);
            _sb.Append(": ");
        }

        private void AppendString(string s)
        {
            _sb.Append('"');
            foreach (char c in s)
            {
                if (c == '"' || c == '\\') _sb.Append('\\').Append(c);
                else if (c < 0x20) _sb.Append("\\u").Append(((int)c).ToString("x4"));
                else _sb.Append(c);
            }
            _sb.Append('"');
        }

        public JsonLine Add(string key, string value)
        {
            Key(key);
            if (value == null) _sb.Append("null");
            else AppendString(value);
            return this;
        }

        public JsonLine Add(string key, long value)
        {
            Key(key);
            _sb.Append(value.ToString(CultureInfo.InvariantCulture));
            return this;
        }

        public JsonLine Add(string key, double value)
        {
            Key(key);
            if (double.IsNaN(value) || double.IsInfinity(value)) _sb.Append("null");
            else _sb.Append(value.ToString("R", CultureInfo.InvariantCulture));
            return this;
        }

        public JsonLine Add(string key, bool value)
        {
            Key(key);
            _sb.Append(value ? "true" : "false");
            return this;
        }

        public JsonLine Add(string key, IList<long> values)
        {
            Key(key);
            _sb.Append('[');
            for (int i = 0; i < values.Count; i++)
            {
                if (i > 0) _sb.Append(", ");
                _sb.Append(values[i].ToString(CultureInfo.InvariantCulture));
            }
            _sb.Append(']');
            return this;
        }

        public JsonLine AddRaw(string key, string json)
        {
            Key(key);
            _sb.Append(json);
            return this;
        }

        public override string ToString()
        {
            return _sb.ToString() + "}";
        }

        private static readonly object ConsoleLock = new object();

        public void Print()
        {
            lock (ConsoleLock)
            {
                Console.Out.WriteLine(ToString());
                Console.Out.Flush();
            }
        }
    }
}
