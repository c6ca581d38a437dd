// Starting and stopping takes (docs/takes.md) from an engine: a CONTROL to the pseudo-stage "take"
// of any declared stream, {"record": true, "name": "scene-4"} (name optional) or {"record": false}.
// The server answers with a CONTROL_ACK whose "applied" map says what happened (TakeAck), or a
// refusal (ok false, BAD_PARAM_VALUE: a take is already recording, none is, the name is taken).
// Take names are checked here with the server's rule, so a bad one fails before it is sent.
using System;
using System.Text;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Core
{
    public static class TakeControl
    {
        /// <summary>The CONTROL stage name the server reads as "start or stop a take".</summary>
        public const string Stage = "take";

        /// <summary>A take name has at most this many characters.</summary>
        public const int MaxNameLength = 128;

        /// <summary>
        /// Whether <paramref name="name"/> may name a take (it becomes a folder name on the server):
        /// 1..128 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit.
        /// </summary>
        public static bool IsValidName(string name)
        {
            return NameProblem(name) == null;
        }

        /// <summary>Throws ArgumentException saying why <paramref name="name"/> cannot name a take.</summary>
        public static void CheckName(string name)
        {
            string problem = NameProblem(name);
            if (problem != null) throw new ArgumentException(problem, "name");
        }

        /// <summary>Why a name cannot name a take, or null when it can.</summary>
        public static string NameProblem(string name)
        {
            if (name == null) return "take name is null (pass no name to let the server choose one)";
            string rule = " (a take name is 1.." + MaxNameLength + " characters of ASCII letters, digits, '.', '_' or '-', "
                          + "starting with a letter or digit)";
            if (name.Length == 0) return "take name is empty" + rule;
            if (name.Length > MaxNameLength) return "take name is " + name.Length + " characters long" + rule;
            if (!IsAsciiLetterOrDigit(name[0])) return "take name " + Quote(name) + " starts with " + Describe(name[0]) + rule;
            for (int i = 1; i < name.Length; i++)
            {
                char c = name[i];
                if (!IsAsciiLetterOrDigit(c) && c != '.' && c != '_' && c != '-')
                {
                    return "take name " + Quote(name) + " has " + Describe(c) + " at position " + i + rule;
                }
            }
            return null;
        }

        /// <summary>The CONTROL params that start a take; null <paramref name="name"/>: the server names it take-YYYYMMDD-HHMMSS.</summary>
        public static MsgPackMap StartParams(string name)
        {
            var map = new MsgPackMap(2).Add("record", true);
            if (name != null)
            {
                CheckName(name);
                map.Add("name", name);
            }
            return map;
        }

        public static MsgPackMap StopParams()
        {
            return new MsgPackMap(1).Add("record", false);
        }

        private static bool IsAsciiLetterOrDigit(char c)
        {
            return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        }

        private static string Describe(char c)
        {
            if (c >= 0x20 && c < 0x7f) return "'" + c + "'";
            return "U+" + ((int)c).ToString("X4");
        }

        private static string Quote(string name)
        {
            var sb = new StringBuilder("\"");
            foreach (char c in name)
            {
                if (c >= 0x20 && c < 0x7f) sb.Append(c);
                else sb.Append("\\u").Append(((int)c).ToString("x4"));
            }
            return sb.Append('"').ToString();
        }
    }

    /// <summary>The outcome of a take start or stop: the CONTROL_ACK of the "take" stage, read.</summary>
    public sealed class TakeAck
    {
        public long RequestId;
        /// <summary>False: the server refused (see <see cref="Code"/> and <see cref="Reason"/>), or the ack was unreadable.</summary>
        public bool Ok;
        /// <summary>True for the answer to a start, false for a stop.</summary>
        public bool Record;
        /// <summary>The take's name (the one asked for, or the one the server chose).</summary>
        public string Take;
        /// <summary>The take's folder on the server's machine.</summary>
        public string Path;
        /// <summary>On start: the SMPTE timecode of the take's first instant.</summary>
        public string Timecode;
        /// <summary>On stop: "stopping" (the writers are still finishing), "complete", "failed" or "interrupted".</summary>
        public string Status;
        /// <summary>On stop, when the take was finished at once: its length.</summary>
        public double? DurationS;
        /// <summary>On stop of a take whose recording failed (disk full, write error): why.</summary>
        public string Failure;
        /// <summary>When not ok: the error code (BAD_PARAM_VALUE for a refused take request), or null for an unreadable ack.</summary>
        public long? Code;
        public string Reason;

        /// <summary>
        /// Reads the CONTROL_ACK of a take start (<paramref name="record"/> true) or stop (false).
        /// Throws FormatException naming the field when an accepted ack's "applied" lacks "record" or
        /// "take", holds a value of the wrong type, or answers the other request.
        /// </summary>
        public static TakeAck FromControlAck(ControlAck ack, bool record)
        {
            if (ack == null) throw new ArgumentNullException("ack");
            var take = new TakeAck { RequestId = ack.RequestId, Ok = ack.Ok, Record = record, Code = ack.Code, Reason = ack.Reason };
            if (!ack.Ok) return take;
            MsgPackMap a = ack.Applied;
            MsgPackValue applied;
            if (!a.TryGetValue("record", out applied) || applied.Type != MsgPackType.Bool)
            {
                throw new FormatException("take CONTROL_ACK " + ack.RequestId + ": applied.record must be a bool, got " + Found(a, "record"));
            }
            if (applied.AsBool != record)
            {
                throw new FormatException("take CONTROL_ACK " + ack.RequestId + ": applied.record is " + (applied.AsBool ? "true" : "false")
                                          + " but the request " + (record ? "started" : "stopped") + " a take");
            }
            take.Take = Str(a, "take", true, ack.RequestId);
            take.Path = Str(a, "path", false, ack.RequestId);
            take.Timecode = Str(a, "timecode", false, ack.RequestId);
            take.Status = Str(a, "status", false, ack.RequestId);
            take.Failure = Str(a, "failure", false, ack.RequestId);
            MsgPackValue duration;
            if (a.TryGetValue("duration_s", out duration) && !duration.IsNil)
            {
                if (!duration.IsNumber) throw new FormatException("take CONTROL_ACK " + ack.RequestId + ": applied.duration_s must be a number, got " + MsgPackValue.TypeName(duration.Type));
                take.DurationS = duration.AsDouble;
            }
            return take;
        }

        /// <summary>An outcome for a request whose answer could not be read (or never left): not ok, no code.</summary>
        public static TakeAck Failed(long requestId, bool record, string reason)
        {
            return new TakeAck { RequestId = requestId, Ok = false, Record = record, Reason = reason };
        }

        private static string Found(MsgPackMap map, string key)
        {
            MsgPackValue v;
            return map.TryGetValue(key, out v) ? MsgPackValue.TypeName(v.Type) : "nothing";
        }

        private static string Str(MsgPackMap map, string key, bool required, long requestId)
        {
            MsgPackValue v;
            if (!map.TryGetValue(key, out v) || v.IsNil)
            {
                if (required) throw new FormatException("take CONTROL_ACK " + requestId + ": applied." + key + " is missing");
                return null;
            }
            if (v.Type != MsgPackType.Str)
            {
                throw new FormatException("take CONTROL_ACK " + requestId + ": applied." + key + " must be a string, got " + MsgPackValue.TypeName(v.Type));
            }
            return v.AsString;
        }

        public override string ToString()
        {
            if (!Ok)
            {
                return "take " + (Record ? "start" : "stop") + " refused" + (Code.HasValue ? " (" + ErrorCodes.NameOf(Code.Value) + ")" : "")
                       + ": " + Reason;
            }
            if (Record) return "take '" + Take + "' recording to " + Path + " from " + Timecode;
            return "take '" + Take + "' " + Status + (DurationS.HasValue ? " (" + DurationS.Value.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + " s)" : "")
                   + (Failure != null ? ": " + Failure : "");
        }
    }
}
