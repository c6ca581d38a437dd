// CONTROL (engine -> server) and CONTROL_ACK (server -> engine): docs/protocol.md, 6.5, 6.6, 7.4.
using System.Collections.Generic;

namespace MachinimaBridge.Protocol
{
    public sealed class Control : BridgeMessage
    {
        public override string Kind { get { return MessageKinds.Control; } }

        /// <summary>Chosen by the engine, increasing per CONTROL; echoed in CONTROL_ACK.</summary>
        public long RequestId;
        public long Stream;
        public string Stage;
        /// <summary>New values by parameter name (ints, floats, bools, strings, arrays of numbers), in the order given.</summary>
        public MsgPackMap Params = new MsgPackMap();
        /// <summary>Glide time for numeric parameters, or null for "at once".</summary>
        public double? GlideMs;

        public override MsgPackMap ToHeader()
        {
            MsgPackMap m = Base(7)
                .Add("request_id", RequestId)
                .Add("stream", Stream)
                .Add("stage", Stage)
                .Add("params", Params);
            if (GlideMs.HasValue) m.Add("glide_ms", GlideMs.Value);
            return m;
        }

        /// <summary>
        /// Whether a value may be a CONTROL parameter (6.5): an int, a float, a bool, a str, or an array of
        /// numbers; nil, maps, bin and arrays holding anything but numbers are BAD_PARAM_VALUE.
        /// </summary>
        public static bool IsAllowedParamValue(MsgPackValue value)
        {
            switch (value.Type)
            {
                case MsgPackType.Int:
                case MsgPackType.Float:
                case MsgPackType.Bool:
                case MsgPackType.Str:
                    return true;
                case MsgPackType.Array:
                    foreach (MsgPackValue item in value.AsArray)
                    {
                        if (!item.IsNumber) return false;
                    }
                    return true;
                default:
                    return false;
            }
        }

        public static Control FromHeader(FieldReader r)
        {
            MsgPackMap parameters = r.MapField("params");
            foreach (KeyValuePair<string, MsgPackValue> e in parameters)
            {
                if (!IsAllowedParamValue(e.Value))
                {
                    throw new ProtocolException(ErrorCode.BAD_PARAM_VALUE,
                        "params." + e.Key + " must be a number, boolean, string or array of numbers, got "
                        + MsgPackValue.TypeName(e.Value.Type), MessageKinds.Control);
                }
            }
            double? glide = r.OptFloat("glide_ms");
            if (glide.HasValue && !(glide.Value >= 0.0 && glide.Value <= ProtocolLimits.MaxGlideMs))
            {
                throw r.Fail("glide_ms " + glide.Value + " is outside 0..600000");
            }
            return new Control
            {
                RequestId = r.Int("request_id", 0, ProtocolLimits.MaxU63),
                Stream = r.Int("stream", 0, ProtocolLimits.MaxStreamId),
                Stage = r.Str("stage"),
                Params = parameters,
                GlideMs = glide,
            };
        }
    }

    public sealed class ControlAck : BridgeMessage
    {
        public override string Kind { get { return MessageKinds.ControlAck; } }

        public long RequestId;
        public bool Ok;
        /// <summary>When ok: each parameter with the value actually applied (after clamping or rounding).</summary>
        public MsgPackMap Applied = new MsgPackMap();
        /// <summary>When not ok: the error code (UNKNOWN_STREAM, UNKNOWN_STAGE, UNKNOWN_PARAM, BAD_PARAM_VALUE).</summary>
        public long? Code;
        public string Reason;

        public override MsgPackMap ToHeader()
        {
            MsgPackMap m = Base(7).Add("request_id", RequestId).Add("ok", Ok).Add("applied", Applied);
            if (Code.HasValue) m.Add("code", Code.Value);
            if (Reason != null) m.Add("reason", Reason);
            return m;
        }

        public static ControlAck FromHeader(FieldReader r)
        {
            return new ControlAck
            {
                RequestId = r.Int("request_id", 0),
                Ok = r.Bool("ok"),
                Applied = r.OptMapField("applied") ?? new MsgPackMap(),
                Code = r.OptInt("code"),
                Reason = r.OptStr("reason"),
            };
        }
    }
}
