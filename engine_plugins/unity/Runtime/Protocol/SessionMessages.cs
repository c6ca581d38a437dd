// HELLO (engine -> server) with its stream declarations, and WELCOME (server -> engine) with
// its grants: docs/protocol.md, 6.1 and 6.2. Field order below is the canonical key order.
using System.Collections.Generic;

namespace MachinimaBridge.Protocol
{
    /// <summary>A stream the engine will send: resolution, formats and the pipeline it asks for.</summary>
    public sealed class StreamDeclaration
    {
        public long Id;
        public string Name;
        public long Width;
        public long Height;
        public string ColorFormat = PixelFormats.RGBA8;
        /// <summary>F16 or F32, or null when FRAMEs carry no depth.</summary>
        public string DepthFormat;
        public bool Mask;
        public double Fps = 30.0;
        /// <summary>Pipeline name, or null for the server's default.</summary>
        public string Pipeline;
        /// <summary>The format of the stream's AUDIO chunks (docs/protocol.md 6.14), or null when it carries no sound.</summary>
        public AudioFormat Audio;

        public MsgPackMap ToWire()
        {
            var m = new MsgPackMap(10)
                .Add("id", Id)
                .Add("name", Name)
                .Add("width", Width)
                .Add("height", Height)
                .Add("color_format", ColorFormat);
            if (DepthFormat != null) m.Add("depth_format", DepthFormat);
            m.Add("mask", Mask);
            m.Add("fps", Fps);
            if (Pipeline != null) m.Add("pipeline", Pipeline);
            if (Audio != null) m.Add("audio", Audio.ToWire());
            return m;
        }

        public static StreamDeclaration FromWire(FieldReader r)
        {
            var d = new StreamDeclaration
            {
                Id = r.Int("id", 0, ProtocolLimits.MaxStreamId),
                Name = r.Str("name"),
                Width = r.Int("width", 1, PixelFormats.MaxSidePx),
                Height = r.Int("height", 1, PixelFormats.MaxSidePx),
                ColorFormat = r.Str("color_format"),
                DepthFormat = r.OptStr("depth_format"),
                Mask = r.BoolOr("mask", false),
                Fps = r.FloatOr("fps", 30.0),
                Pipeline = r.OptStr("pipeline"),
            };
            FieldReader audio = r.Sub("audio", false);
            if (audio != null) d.Audio = AudioFormat.FromWire(audio);
            if (System.Array.IndexOf(PixelFormats.ColorFormats, d.ColorFormat) < 0)
            {
                throw r.Fail(r.Where + ".color_format '" + d.ColorFormat + "' is not one of "
                             + string.Join(", ", PixelFormats.ColorFormats));
            }
            if (d.DepthFormat != null && System.Array.IndexOf(PixelFormats.DepthFormats, d.DepthFormat) < 0)
            {
                throw r.Fail(r.Where + ".depth_format '" + d.DepthFormat + "' is not one of "
                             + string.Join(", ", PixelFormats.DepthFormats));
            }
            if (!(d.Fps > 0.0 && d.Fps <= ProtocolLimits.MaxFps))
            {
                throw r.Fail(r.Where + ".fps " + d.Fps + " is outside (0, 1000]");
            }
            return d;
        }
    }

    public sealed class Hello : BridgeMessage
    {
        public override string Kind { get { return MessageKinds.Hello; } }

        public string Engine;
        public string Client = "unknown";
        public string Session = "default";
        public List<StreamDeclaration> Streams = new List<StreamDeclaration>();
        public List<string> Capabilities = new List<string>();
        public long HeartbeatMs = 1000;

        public override MsgPackMap ToHeader()
        {
            var streams = new List<MsgPackValue>(Streams.Count);
            foreach (StreamDeclaration s in Streams) streams.Add(MsgPackValue.From(s.ToWire()));
            return Base(8)
                .Add("engine", Engine)
                .Add("client", Client)
                .Add("session", Session)
                .Add("streams", MsgPackValue.From(streams))
                .Add("capabilities", MsgPackValue.FromStrings(Capabilities))
                .Add("heartbeat_ms", HeartbeatMs);
        }

        public static Hello FromHeader(FieldReader r)
        {
            List<MsgPackValue> raw = r.List("streams", ProtocolLimits.MaxStreamsPerEngine);
            var streams = new List<StreamDeclaration>(raw.Count);
            var ids = new HashSet<long>();
            for (int i = 0; i < raw.Count; i++)
            {
                StreamDeclaration d = StreamDeclaration.FromWire(FieldReader.Of(raw[i], "streams[" + i + "]", MessageKinds.Hello));
                streams.Add(d);
            }
            foreach (StreamDeclaration d in streams)
            {
                if (!ids.Add(d.Id)) throw r.Fail("streams declares the stream id " + d.Id + " twice");
            }
            List<string> caps = r.Strings("capabilities", false);
            return new Hello
            {
                Engine = r.Str("engine"),
                Client = r.StrOr("client", "unknown"),
                Session = r.StrOr("session", "default"),
                Streams = streams,
                Capabilities = caps,
                HeartbeatMs = r.IntOr("heartbeat_ms", 1000, ProtocolLimits.MinHeartbeatMs, ProtocolLimits.MaxHeartbeatMs),
            };
        }
    }

    /// <summary>The server's answer for one declared stream: its pipeline, stage names and RESULT format.</summary>
    public sealed class StreamGrant
    {
        public long Id;
        public string Pipeline;
        public List<string> Stages = new List<string>();
        public long Width;
        public long Height;
        public string ColorFormat;

        public MsgPackMap ToWire()
        {
            return new MsgPackMap(6)
                .Add("id", Id)
                .Add("pipeline", Pipeline)
                .Add("stages", MsgPackValue.FromStrings(Stages))
                .Add("width", Width)
                .Add("height", Height)
                .Add("color_format", ColorFormat);
        }

        public static StreamGrant FromWire(FieldReader r)
        {
            return new StreamGrant
            {
                Id = r.Int("id", 0, ProtocolLimits.MaxStreamId),
                Pipeline = r.Str("pipeline"),
                Stages = r.Strings("stages", true),
                Width = r.Int("width", 1),
                Height = r.Int("height", 1),
                ColorFormat = r.Str("color_format"),
            };
        }
    }

    public sealed class Welcome : BridgeMessage
    {
        public override string Kind { get { return MessageKinds.Welcome; } }

        public string Server;
        public string EngineId;
        public string Session;
        public List<StreamGrant> Streams = new List<StreamGrant>();
        public long HeartbeatMs;
        public long TimeoutMs;
        public long MaxFrameBytes;

        public StreamGrant Grant(long streamId)
        {
            foreach (StreamGrant g in Streams)
            {
                if (g.Id == streamId) return g;
            }
            return null;
        }

        public override MsgPackMap ToHeader()
        {
            var streams = new List<MsgPackValue>(Streams.Count);
            foreach (StreamGrant g in Streams) streams.Add(MsgPackValue.From(g.ToWire()));
            return Base(9)
                .Add("server", Server)
                .Add("engine_id", EngineId)
                .Add("session", Session)
                .Add("streams", MsgPackValue.From(streams))
                .Add("heartbeat_ms", HeartbeatMs)
                .Add("timeout_ms", TimeoutMs)
                .Add("max_frame_bytes", MaxFrameBytes);
        }

        public static Welcome FromHeader(FieldReader r)
        {
            var welcome = new Welcome
            {
                Server = r.Str("server"),
                EngineId = r.Str("engine_id"),
                Session = r.Str("session"),
            };
            List<MsgPackValue> raw = r.List("streams");
            for (int i = 0; i < raw.Count; i++)
            {
                welcome.Streams.Add(StreamGrant.FromWire(FieldReader.Of(raw[i], "streams[" + i + "]", MessageKinds.Welcome)));
            }
            welcome.HeartbeatMs = r.Int("heartbeat_ms", 1);
            welcome.TimeoutMs = r.Int("timeout_ms", 1);
            welcome.MaxFrameBytes = r.Int("max_frame_bytes", 1);
            return welcome;
        }
    }
}
