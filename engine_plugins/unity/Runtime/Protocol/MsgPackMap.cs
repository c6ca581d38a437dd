// A msgpack map with string keys, kept in insertion (wire) order.
//
// Protocol v1 allows only str keys and no repeated key at any depth (docs/protocol.md, 3.1);
// the reader enforces that, and this class refuses a repeated key on Add so an encoder cannot
// produce one either.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Text;

namespace MachinimaBridge.Protocol
{
    public sealed class MsgPackMap : IEnumerable<KeyValuePair<string, MsgPackValue>>, IEquatable<MsgPackMap>
    {
        private readonly List<KeyValuePair<string, MsgPackValue>> _entries;
        private readonly Dictionary<string, int> _index;

        public MsgPackMap() : this(8)
        {
        }

        public MsgPackMap(int capacity)
        {
            _entries = new List<KeyValuePair<string, MsgPackValue>>(capacity);
            _index = new Dictionary<string, int>(capacity, StringComparer.Ordinal);
        }

        public int Count { get { return _entries.Count; } }

        /// <summary>Append a key; throws ArgumentException when the key is already present.</summary>
        public MsgPackMap Add(string key, MsgPackValue value)
        {
            if (key == null) throw new ArgumentNullException("key");
            if (value == null) throw new ArgumentNullException("value");
            if (_index.ContainsKey(key)) throw new ArgumentException("map already has the key '" + key + "'");
            _index.Add(key, _entries.Count);
            _entries.Add(new KeyValuePair<string, MsgPackValue>(key, value));
            return this;
        }

        public MsgPackMap Add(string key, long value) { return Add(key, MsgPackValue.From(value)); }
        public MsgPackMap Add(string key, double value) { return Add(key, MsgPackValue.From(value)); }
        public MsgPackMap Add(string key, string value) { return Add(key, MsgPackValue.From(value)); }
        public MsgPackMap Add(string key, bool value) { return Add(key, MsgPackValue.From(value)); }
        public MsgPackMap Add(string key, MsgPackMap value) { return Add(key, MsgPackValue.From(value)); }

        public bool ContainsKey(string key)
        {
            return _index.ContainsKey(key);
        }

        public bool TryGetValue(string key, out MsgPackValue value)
        {
            int i;
            if (_index.TryGetValue(key, out i))
            {
                value = _entries[i].Value;
                return true;
            }
            value = null;
            return false;
        }

        public MsgPackValue this[string key]
        {
            get
            {
                MsgPackValue value;
                if (!TryGetValue(key, out value)) throw new KeyNotFoundException("map has no key '" + key + "'");
                return value;
            }
        }

        public KeyValuePair<string, MsgPackValue> EntryAt(int position)
        {
            return _entries[position];
        }

        /// <summary>A shallow copy in the same key order.</summary>
        public MsgPackMap Copy()
        {
            var copy = new MsgPackMap(_entries.Count);
            foreach (var e in _entries) copy.Add(e.Key, e.Value);
            return copy;
        }

        public IEnumerator<KeyValuePair<string, MsgPackValue>> GetEnumerator()
        {
            return _entries.GetEnumerator();
        }

        IEnumerator IEnumerable.GetEnumerator()
        {
            return _entries.GetEnumerator();
        }

        /// <summary>Same keys in the same order with equal values.</summary>
        public bool Equals(MsgPackMap other)
        {
            if (ReferenceEquals(other, null) || other.Count != Count) return false;
            for (int i = 0; i < _entries.Count; i++)
            {
                if (!string.Equals(_entries[i].Key, other._entries[i].Key, StringComparison.Ordinal)) return false;
                if (!_entries[i].Value.Equals(other._entries[i].Value)) return false;
            }
            return true;
        }

        public override bool Equals(object obj)
        {
            return Equals(obj as MsgPackMap);
        }

        public override int GetHashCode()
        {
            return _entries.Count;
        }

        public override string ToString()
        {
            var sb = new StringBuilder();
            AppendTo(sb);
            return sb.ToString();
        }

        internal void AppendTo(StringBuilder sb)
        {
            sb.Append('{');
            for (int i = 0; i < _entries.Count; i++)
            {
                if (i > 0) sb.Append(", ");
                sb.Append('"').Append(_entries[i].Key).Append("\": ");
                _entries[i].Value.AppendTo(sb);
            }
            sb.Append('}');
        }
    }
}
