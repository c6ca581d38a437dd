// Reads the golden vectors' JSON descriptions into msgpack values, keeping what
// tests/vectors/README.md says matters: key order, integer vs float (a number with '.' or an
// exponent is a float64, one without is an integer, possibly above 2^53), UTF-8 strings.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Tests
{
    public static class JsonValueReader
    {
        public static MsgPackValue Parse(string text)
        {
            int pos = 0;
            MsgPackValue value = ReadValue(text, ref pos);
            SkipSpace(text, ref pos);
            if (pos != text.Length) throw new FormatException("JSON has text after the value at " + pos);
            return value;
        }

        private static void SkipSpace(string s, ref int pos)
        {
            while (pos < s.Length && char.IsWhiteSpace(s[pos])) pos++;
        }

        private static MsgPackValue ReadValue(string s, ref int pos)
        {
            SkipSpace(s, ref pos);
            if (pos >= s.Length) throw new FormatException("JSON ends early");
            char c = s[pos];
            if (c == '{') return ReadObject(s, ref pos);
            if (c == '[') return ReadArray(s, ref pos);
            if (c == '"') return MsgPackValue.From(ReadString(s, ref pos));
            if (Literal(s, ref pos, "true")) return MsgPackValue.True;
            if (Literal(s, ref pos, "false")) return MsgPackValue.False;
            if (Literal(s, ref pos, "null")) return MsgPackValue.Nil;
            return ReadNumber(s, ref pos);
        }

        private static bool Literal(string s, ref int pos, string word)
        {
            if (string.CompareOrdinal(s, pos, word, 0, word.Length) != 0) return false;
            pos += word.Length;
            return true;
        }

        private static MsgPackValue ReadObject(string s, ref int pos)
        {
            pos++;
            var map = new MsgPackMap();
            SkipSpace(s, ref pos);
            if (s[pos] == '}') { pos++; return MsgPackValue.From(map); }
            while (true)
            {
                SkipSpace(s, ref pos);
                string key = ReadString(s, ref pos);
                SkipSpace(s, ref pos);
                if (s[pos] != ':') throw new FormatException("JSON: ':' expected at " + pos);
                pos++;
                map.Add(key, ReadValue(s, ref pos));
                SkipSpace(s, ref pos);
                if (s[pos] == ',') { pos++; continue; }
                if (s[pos] == '}') { pos++; return MsgPackValue.From(map); }
                throw new FormatException("JSON: ',' or '}' expected at " + pos);
            }
        }

        private static MsgPackValue ReadArray(string s, ref int pos)
        {
            pos++;
            var items = new List<MsgPackValue>();
            SkipSpace(s, ref pos);
            if (s[pos] == ']') { pos++; return MsgPackValue.From(items); }
            while (true)
            {
                items.Add(ReadValue(s, ref pos));
                SkipSpace(s, ref pos);
                if (s[pos] == ',') { pos++; continue; }
                if (s[pos] == ']') { pos++; return MsgPackValue.From(items); }
                throw new FormatException("JSON: ',' or ']' expected at " + pos);
            }
        }

        private static string ReadString(string s, ref int pos)
        {
            if (s[pos] != '"') throw new FormatException("JSON: string expected at " + pos);
            pos++;
            var sb = new StringBuilder();
            while (true)
            {
                char c = s[pos++];
                if (c == '"') return sb.ToString();
                if (c != '\\') { sb.Append(c); continue; }
                char e = s[pos++];
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        sb.Append((char)int.Parse(s.Substring(pos, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                        pos += 4;
                        break;
                    default: throw new FormatException("JSON: bad escape \\" + e + " at " + pos);
                }
            }
        }

        private static MsgPackValue ReadNumber(string s, ref int pos)
        {
            int start = pos;
            while (pos < s.Length && "+-0123456789.eE".IndexOf(s[pos]) >= 0) pos++;
            string token = s.Substring(start, pos - start);
            if (token.Length == 0) throw new FormatException("JSON: unexpected character '" + s[start] + "' at " + start);
            if (token.IndexOfAny(new[] { '.', 'e', 'E' }) >= 0)
            {
                return MsgPackValue.From(double.Parse(token, NumberStyles.Float, CultureInfo.InvariantCulture));
            }
            if (token[0] == '-') return MsgPackValue.From(long.Parse(token, CultureInfo.InvariantCulture));
            return MsgPackValue.From(ulong.Parse(token, CultureInfo.InvariantCulture));
        }
    }
}
