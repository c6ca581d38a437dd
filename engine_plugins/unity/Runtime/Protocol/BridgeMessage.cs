// The base of every protocol v1 message and the names and limits shared by all kinds
// (docs/protocol.md, sections 2, 6 and 8).
using System.Collections.Generic;

namespace MachinimaBridge.Protocol
{
    public static class MessageKinds
    {
        public const string Hello = "HELLO";
        public const string Welcome = "WELCOME";
        public const string Frame = "FRAME";
        public const string Result = "RESULT";
        public const string Control = "CONTROL";
        public const string ControlAck = "CONTROL_ACK";
        public const string Stats = "STATS";
        public const string Error = "ERROR";
        public const string Heartbeat = "HEARTBEAT";
        public const string Bye = "BYE";
        public const string Mocap = "MOCAP";
        public const string Session = "SESSION";
        public const string State = "STATE";
        public const string Audio = "AUDIO";

        public static readonly string[] All =
        {
            Hello, Welcome, Frame, Result, Control, ControlAck, Stats, Error, Heartbeat, Bye, Mocap, Session, State, Audio,
        };
    }

    public static class ProtocolLimits
    {
        public const int Version = 1;
        public const int MaxStreamsPerEngine = 16;
        public const int MaxPlanes = 4;
        public const long MaxStreamId = 65535;
        public const long MaxU63 = long.MaxValue;
        public const long MinHeartbeatMs = 10;
        public const long MaxHeartbeatMs = 600000;
        public const double MaxGlideMs = 600000.0;
        public const double MaxFps = 1000.0;
    }

    /// <summary>One message: a header map (part 0) and, for FRAME, RESULT, MOCAP and AUDIO, binary parts after it.</summary>
    public abstract class BridgeMessage
    {
        public abstract string Kind { get; }

        /// <summary>The header map in canonical key order (v, kind, then the kind's fields).</summary>
        public abstract MsgPackMap ToHeader();

        /// <summary>Binary parts that follow the header (empty for kinds without planes).</summary>
        public virtual IList<byte[]> BinaryParts()
        {
            return new byte[0][];
        }

        protected MsgPackMap Base(int capacity)
        {
            return new MsgPackMap(capacity).Add("v", (long)ProtocolLimits.Version).Add("kind", Kind);
        }
    }
}
