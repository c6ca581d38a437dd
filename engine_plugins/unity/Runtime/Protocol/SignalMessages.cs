// ERROR, HEARTBEAT and BYE (docs/protocol.md, 6.8-6.10), and MOCAP, reserved for the mocap
// relay (6.11): its fields and parts are carried through unparsed.
using System.Collections.Generic;

namespace MachinimaBridge.Protocol
{
    public sealed class Error : BridgeMessage
    {
        public override string Kind { get { return MessageKinds.Error; } }

        /// <summary>Error number (section 9); numbers this version does not know are kept as they are.</summary>
        public long Code;
        public string Name;
        public string Message;
        public string RefKind;
        public long? Stream;
        public long? Index;

        public static Error FromException(ProtocolException e)
        {
            return new Error
            {
                Code = (long)e.Code,
                Name = e.Code.ToString(),
                Message = e.Detail,
                RefKind = e.Kind,
                Stream = e.Stream,
                Index = e.Index,
            };
        }

        public override MsgPackMap ToHeader()
        {
            MsgPackMap m = Base(8).Add("code", Code).Add("name", Name).Add("message", Message);
            if (RefKind != null) m.Add("ref_kind", RefKind);
            if (Stream.HasValue) m.Add("stream", Stream.Value);
            if (Index.HasValue) m.Add("index", Index.Value);
            return m;
        }

        public static Error FromHeader(FieldReader r)
        {
            return new Error
            {
                Code = r.Int("code"),
                Name = r.Str("name"),
                Message = r.Str("message"),
                RefKind = r.OptStr("ref_kind"),
                Stream = r.OptInt("stream"),
                Index = r.OptInt("index"),
            };
        }

        public override string ToString()
        {
            string about = RefKind == null ? "" : " (about " + RefKind
                + (Stream.HasValue ? " stream " + Stream.Value : "") + (Index.HasValue ? " frame " + Index.Value : "") + ")";
            return Name + " [" + Code + "]: " + Message + about;
        }
    }

    public sealed class Heartbeat : BridgeMessage
    {
        public override string Kind { get { return MessageKinds.Heartbeat; } }

        /// <summary>The sender's monotonic clock when sent (informative).</summary>
        public long TNs;

        public override MsgPackMap ToHeader()
        {
            return Base(3).Add("t_ns", TNs);
        }

        public static Heartbeat FromHeader(FieldReader r)
        {
            return new Heartbeat { TNs = r.Int("t_ns", 0, ProtocolLimits.MaxU63) };
        }
    }

    public sealed class Bye : BridgeMessage
    {
        public override string Kind { get { return MessageKinds.Bye; } }

        public string Reason = "";

        public override MsgPackMap ToHeader()
        {
            return Base(3).Add("reason", Reason);
        }

        public static Bye FromHeader(FieldReader r)
        {
            return new Bye { Reason = r.StrOr("reason", "") };
        }
    }

    /// <summary>Reserved for the mocap relay: every header key other than v and kind, and every part, kept as received.</summary>
    public sealed class Mocap : BridgeMessage
    {
        public override string Kind { get { return MessageKinds.Mocap; } }

        public MsgPackMap Fields = new MsgPackMap();
        public List<byte[]> Parts = new List<byte[]>();

        public override MsgPackMap ToHeader()
        {
            MsgPackMap m = Base(2 + Fields.Count);
            foreach (KeyValuePair<string, MsgPackValue> e in Fields)
            {
                if (e.Key != "v" && e.Key != "kind") m.Add(e.Key, e.Value);
            }
            return m;
        }

        public override IList<byte[]> BinaryParts()
        {
            return Parts;
        }

        public static Mocap FromHeader(FieldReader r, IList<byte[]> parts)
        {
            var fields = new MsgPackMap(r.Map.Count);
            foreach (KeyValuePair<string, MsgPackValue> e in r.Map)
            {
                if (e.Key != "v" && e.Key != "kind") fields.Add(e.Key, e.Value);
            }
            return new Mocap { Fields = fields, Parts = new List<byte[]>(parts) };
        }
    }
}
