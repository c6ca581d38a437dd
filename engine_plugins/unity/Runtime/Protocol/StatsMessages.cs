// STATS in both directions (docs/protocol.md, 6.7, 7.5): a request from an engine has no
// "streams"; the server's report carries one StreamStats per stream of that engine.
using System.Collections.Generic;

namespace MachinimaBridge.Protocol
{
    public sealed class StreamStats
    {
        public long Id;
        public string Name;
        public long FramesIn;
        public long FramesOut;
        public long Dropped;
        public double FpsIn;
        public double FpsOut;
        public double LatencyMsP50;
        public double LatencyMsP95;
        /// <summary>Mean recent processing time per stage in ms (received order kept; values are floats).</summary>
        public MsgPackMap StageMs = new MsgPackMap();

        public MsgPackMap ToWire()
        {
            // stage_ms values are floats on the wire (6.7): integers held here are written as float64.
            var stageMs = new MsgPackMap(StageMs.Count);
            foreach (KeyValuePair<string, MsgPackValue> e in StageMs) stageMs.Add(e.Key, e.Value.AsDouble);
            return new MsgPackMap(10)
                .Add("id", Id)
                .Add("name", Name)
                .Add("frames_in", FramesIn)
                .Add("frames_out", FramesOut)
                .Add("dropped", Dropped)
                .Add("fps_in", FpsIn)
                .Add("fps_out", FpsOut)
                .Add("latency_ms_p50", LatencyMsP50)
                .Add("latency_ms_p95", LatencyMsP95)
                .Add("stage_ms", stageMs);
        }

        public static StreamStats FromWire(FieldReader r)
        {
            var s = new StreamStats
            {
                Id = r.Int("id"),
                Name = r.Str("name"),
                FramesIn = r.Int("frames_in"),
                FramesOut = r.Int("frames_out"),
                Dropped = r.Int("dropped"),
                FpsIn = r.Float("fps_in"),
                FpsOut = r.Float("fps_out"),
                LatencyMsP50 = r.Float("latency_ms_p50"),
                LatencyMsP95 = r.Float("latency_ms_p95"),
            };
            MsgPackMap raw = r.OptMapField("stage_ms") ?? new MsgPackMap();
            var stageMs = new MsgPackMap(raw.Count);
            foreach (KeyValuePair<string, MsgPackValue> e in raw)
            {
                if (!e.Value.IsNumber) throw r.Fail(r.Where + ".stage_ms must map stage names to numbers");
                stageMs.Add(e.Key, e.Value.AsDouble);
            }
            s.StageMs = stageMs;
            return s;
        }
    }

    public sealed class Stats : BridgeMessage
    {
        public override string Kind { get { return MessageKinds.Stats; } }

        /// <summary>Report: the server's clock; request: the engine's clock (informative). Null: left out.</summary>
        public long? TNs;
        /// <summary>Null in a request; the per-stream numbers in a report.</summary>
        public List<StreamStats> Streams;

        public bool IsReport { get { return Streams != null; } }

        public override MsgPackMap ToHeader()
        {
            MsgPackMap m = Base(4);
            if (TNs.HasValue) m.Add("t_ns", TNs.Value);
            if (Streams != null)
            {
                var list = new List<MsgPackValue>(Streams.Count);
                foreach (StreamStats s in Streams) list.Add(MsgPackValue.From(s.ToWire()));
                m.Add("streams", MsgPackValue.From(list));
            }
            return m;
        }

        public static Stats FromHeader(FieldReader r)
        {
            List<MsgPackValue> raw = r.OptList("streams");
            var stats = new Stats { TNs = r.OptInt("t_ns") };
            if (raw != null)
            {
                stats.Streams = new List<StreamStats>(raw.Count);
                for (int i = 0; i < raw.Count; i++)
                {
                    stats.Streams.Add(StreamStats.FromWire(FieldReader.Of(raw[i], "streams[" + i + "]", MessageKinds.Stats)));
                }
            }
            return stats;
        }
    }
}
