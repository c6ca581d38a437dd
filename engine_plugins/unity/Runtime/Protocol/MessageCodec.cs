// Whole messages: parse a list of ZeroMQ parts into a typed message (stateless message-level
// checks of docs/protocol.md, 3, 4, 5 and 6) and serialise a message back into parts with the
// canonical header encoding.
using System.Collections.Generic;

namespace MachinimaBridge.Protocol
{
    public static class MessageCodec
    {
        /// <summary>Decode part 0 into a map and check v and kind (MALFORMED_HEADER / BAD_VERSION).</summary>
        public static MsgPackMap DecodeHeader(byte[] part0)
        {
            MsgPackValue value = MsgPackReader.ReadSingleValue(part0);
            if (value.Type != MsgPackType.Map)
            {
                throw new ProtocolException(ErrorCode.MALFORMED_HEADER,
                    "header must be a msgpack map, got " + MsgPackValue.TypeName(value.Type));
            }
            MsgPackMap header = value.AsMap;
            MsgPackValue version;
            if (!header.TryGetValue("v", out version))
            {
                throw new ProtocolException(ErrorCode.MALFORMED_HEADER, "header has no protocol version field 'v'");
            }
            if (version.Type != MsgPackType.Int)
            {
                throw new ProtocolException(ErrorCode.BAD_VERSION,
                    "'v' must be an integer, got " + MsgPackValue.TypeName(version.Type));
            }
            if (version.IsBigUnsigned || version.AsLong != ProtocolLimits.Version)
            {
                throw new ProtocolException(ErrorCode.BAD_VERSION,
                    "protocol version " + version + " is not supported (this peer speaks " + ProtocolLimits.Version + ")");
            }
            MsgPackValue kind;
            if (!header.TryGetValue("kind", out kind) || kind.Type != MsgPackType.Str)
            {
                throw new ProtocolException(ErrorCode.MALFORMED_HEADER, "header has no string field 'kind'");
            }
            return header;
        }

        public static bool CarriesParts(string kind)
        {
            return kind == MessageKinds.Frame || kind == MessageKinds.Result || kind == MessageKinds.Mocap
                || kind == MessageKinds.Audio;
        }

        /// <summary>Parse one multipart message; throws ProtocolException with the code of the broken rule.</summary>
        public static BridgeMessage Parse(IList<byte[]> parts)
        {
            if (parts == null || parts.Count == 0)
            {
                throw new ProtocolException(ErrorCode.MALFORMED_HEADER, "message has no parts");
            }
            MsgPackMap header = DecodeHeader(parts[0]);
            string kind = header["kind"].AsString;
            if (System.Array.IndexOf(MessageKinds.All, kind) < 0)
            {
                throw new ProtocolException(ErrorCode.UNKNOWN_KIND,
                    "unknown message kind '" + kind + "' (known: " + string.Join(", ", MessageKinds.All) + ")", kind);
            }
            var body = new List<byte[]>(parts.Count - 1);
            for (int i = 1; i < parts.Count; i++) body.Add(parts[i]);
            if (!CarriesParts(kind) && body.Count > 0)
            {
                throw new ProtocolException(ErrorCode.PLANE_MISMATCH,
                    kind + " carries no binary parts, but " + body.Count + " followed the header", kind);
            }
            var r = new FieldReader(header, kind, kind);
            switch (kind)
            {
                case MessageKinds.Hello: return Hello.FromHeader(r);
                case MessageKinds.Welcome: return Welcome.FromHeader(r);
                case MessageKinds.Frame: return Frame.FromHeader(r, body);
                case MessageKinds.Result: return Result.FromHeader(r, body);
                case MessageKinds.Control: return Control.FromHeader(r);
                case MessageKinds.ControlAck: return ControlAck.FromHeader(r);
                case MessageKinds.Stats: return Stats.FromHeader(r);
                case MessageKinds.Error: return Error.FromHeader(r);
                case MessageKinds.Heartbeat: return Heartbeat.FromHeader(r);
                case MessageKinds.Bye: return Bye.FromHeader(r);
                case MessageKinds.Session: return SessionEvent.FromHeader(r);
                case MessageKinds.State: return StateChange.FromHeader(r);
                case MessageKinds.Audio: return Audio.FromHeader(r, body);
                default: return Mocap.FromHeader(r, body);
            }
        }

        public static byte[] EncodeHeader(BridgeMessage message)
        {
            return MsgPackWriter.Encode(message.ToHeader());
        }

        /// <summary>The header bytes followed by the message's binary parts (plane buffers are not copied).</summary>
        public static List<byte[]> Serialize(BridgeMessage message)
        {
            IList<byte[]> body = message.BinaryParts();
            var parts = new List<byte[]>(1 + body.Count) { EncodeHeader(message) };
            parts.AddRange(body);
            return parts;
        }
    }
}
