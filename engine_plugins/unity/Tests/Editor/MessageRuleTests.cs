// Field rules of docs/protocol.md, section 6, beyond what the golden vectors pin: defaults,
// unknown keys, string length in code points, ranges, CONTROL value types, STATS request vs
// report, MOCAP carried through, and typed round trips of messages built in code.
using System;
using System.Collections.Generic;
using MachinimaBridge.Protocol;
using NUnit.Framework;

namespace MachinimaBridge.Tests
{
    [TestFixture]
    public class MessageRuleTests
    {
        private static BridgeMessage RoundTrip(BridgeMessage message)
        {
            return MessageCodec.Parse(MessageCodec.Serialize(message));
        }

        private static ProtocolException FailureOf(MsgPackMap header, params byte[][] planes)
        {
            var parts = new List<byte[]> { MsgPackWriter.Encode(header) };
            parts.AddRange(planes);
            try
            {
                MessageCodec.Parse(parts);
            }
            catch (ProtocolException e)
            {
                return e;
            }
            Assert.Fail("parsing succeeded: " + header);
            return null;
        }

        private static MsgPackMap Header(string kind)
        {
            return new MsgPackMap().Add("v", 1L).Add("kind", kind);
        }

        private static StreamDeclaration Stream(long id)
        {
            return new StreamDeclaration { Id = id, Name = "cam" + id, Width = 64, Height = 32 };
        }

        [Test]
        public void HelloDefaultsApplyWhenOptionalKeysAreAbsent()
        {
            MsgPackMap decl = new MsgPackMap().Add("id", 3L).Add("name", "cam").Add("width", 8L).Add("height", 4L).Add("color_format", "BGRA8");
            MsgPackMap header = Header("HELLO").Add("engine", "e")
                .Add("streams", MsgPackValue.From(new List<MsgPackValue> { MsgPackValue.From(decl) }));
            var hello = (Hello)MessageCodec.Parse(new List<byte[]> { MsgPackWriter.Encode(header) });
            Assert.AreEqual("unknown", hello.Client);
            Assert.AreEqual("default", hello.Session);
            Assert.AreEqual(1000L, hello.HeartbeatMs);
            Assert.AreEqual(0, hello.Capabilities.Count);
            Assert.AreEqual(30.0, hello.Streams[0].Fps);
            Assert.IsFalse(hello.Streams[0].Mask);
            Assert.IsNull(hello.Streams[0].DepthFormat);
            Assert.IsNull(hello.Streams[0].Pipeline);
            // A canonical sender writes the defaults.
            MsgPackMap canonical = hello.ToHeader();
            Assert.IsTrue(canonical.ContainsKey("client") && canonical.ContainsKey("heartbeat_ms"));
            Assert.IsTrue(canonical["streams"].AsArray[0].AsMap.ContainsKey("mask"));
        }

        [Test]
        public void UnknownKeysAreIgnoredAtEveryLevel()
        {
            MsgPackMap plane = PlaneDescriptor.Packed("color", "RGB8", 2, 2).ToWire().Add("future", "x");
            MsgPackMap camera = new MsgPackMap()
                .Add("world_from_camera", MsgPackValue.FromDoubles(new double[16]))
                .Add("intrinsics_px", MsgPackValue.FromDoubles(new double[] { 1, 1, 0.5, 0.5 }))
                .Add("near_m", 0.1).Add("far_m", 10L).Add("lens", "35mm");
            MsgPackMap header = Header("FRAME").Add("stream", 0L).Add("index", 1L).Add("t_capture_ns", 2L)
                .Add("planes", MsgPackValue.From(new List<MsgPackValue> { MsgPackValue.From(plane) }))
                .Add("camera", camera).Add("extra_top_level", 1L);
            var frame = (Frame)MessageCodec.Parse(new List<byte[]> { MsgPackWriter.Encode(header), new byte[12] });
            Assert.AreEqual(10.0, frame.Camera.FarM, "an integer is accepted for a float field");
            Assert.IsFalse(frame.ToHeader().ContainsKey("extra_top_level"));
        }

        [Test]
        public void StringLengthIsCountedInCodePoints()
        {
            // 1024 characters outside the BMP (2048 UTF-16 units) are allowed; 1025 are not.
            string emoji = char.ConvertFromUtf32(0x1F3AC);
            var ok = new System.Text.StringBuilder();
            for (int i = 0; i < 1024; i++) ok.Append(emoji);
            var bye = (Bye)RoundTrip(new Bye { Reason = ok.ToString() });
            Assert.AreEqual(ok.ToString(), bye.Reason);
            ProtocolException e = FailureOf(Header("BYE").Add("reason", ok.ToString() + "x"));
            Assert.AreEqual(ErrorCode.BAD_FIELD, e.Code);
            StringAssert.Contains("BYE.reason is longer than 1024", e.Detail);
        }

        [Test]
        public void FieldErrorsNameTheField()
        {
            ProtocolException e = FailureOf(Header("HEARTBEAT").Add("t_ns", -1L));
            Assert.AreEqual(ErrorCode.BAD_FIELD, e.Code);
            StringAssert.Contains("HEARTBEAT.t_ns = -1 is outside 0..", e.Detail);

            e = FailureOf(Header("HEARTBEAT").Add("t_ns", MsgPackValue.From(18446744073709551615UL)));
            Assert.AreEqual(ErrorCode.BAD_FIELD, e.Code, "above 2^63-1");

            e = FailureOf(Header("BYE").Add("reason", MsgPackValue.Nil));
            Assert.AreEqual(ErrorCode.BAD_FIELD, e.Code, "nil is never a value");

            MsgPackMap decl = Stream(0).ToWire();
            var bad = new MsgPackMap();
            foreach (KeyValuePair<string, MsgPackValue> kv in decl) bad.Add(kv.Key, kv.Key == "fps" ? MsgPackValue.From(0.0) : kv.Value);
            e = FailureOf(Header("HELLO").Add("engine", "e").Add("streams", MsgPackValue.From(new List<MsgPackValue> { MsgPackValue.From(bad) })));
            Assert.AreEqual(ErrorCode.BAD_FIELD, e.Code);
            StringAssert.Contains("streams[0].fps", e.Detail);

            e = FailureOf(Header("HELLO").Add("engine", "e").Add("streams", MsgPackValue.From(new List<MsgPackValue>())).Add("heartbeat_ms", 9L));
            StringAssert.Contains("HELLO.heartbeat_ms = 9 is outside 10..600000", e.Detail);
        }

        [Test]
        public void ControlValuesOfAForbiddenTypeAreBadParamValue()
        {
            MsgPackMap header = Header("CONTROL").Add("request_id", 1L).Add("stream", 0L).Add("stage", "style")
                .Add("params", new MsgPackMap().Add("tint", new MsgPackMap()));
            Assert.AreEqual(ErrorCode.BAD_PARAM_VALUE, FailureOf(header).Code);
            header = Header("CONTROL").Add("request_id", 1L).Add("stream", 0L).Add("stage", "style")
                .Add("params", new MsgPackMap().Add("tint", MsgPackValue.From(new List<MsgPackValue> { MsgPackValue.True })));
            Assert.AreEqual(ErrorCode.BAD_PARAM_VALUE, FailureOf(header).Code, "an array holding a bool");
            header = Header("CONTROL").Add("request_id", 1L).Add("stream", 0L).Add("stage", "style")
                .Add("params", new MsgPackMap()).Add("glide_ms", 600001.0);
            Assert.AreEqual(ErrorCode.BAD_FIELD, FailureOf(header).Code);

            var control = new Control
            {
                RequestId = 9, Stream = 2, Stage = "film_look",
                Params = new MsgPackMap().Add("grain", 0.5).Add("quality", 20L).Add("codec", "jpeg").Add("interlace", true)
                    .Add("tint_rgb", MsgPackValue.FromDoubles(new[] { 1.0, 0.5, 0.25 })),
                GlideMs = 100.0,
            };
            var back = (Control)RoundTrip(control);
            Assert.AreEqual(control.ToHeader().ToString(), back.ToHeader().ToString());
        }

        [Test]
        public void StatsRequestAndReportAreDistinguished()
        {
            var request = (Stats)RoundTrip(new Stats());
            Assert.IsFalse(request.IsReport);
            Assert.AreEqual(2, request.ToHeader().Count, "a request without t_ns is only v and kind");
            var report = (Stats)RoundTrip(new Stats
            {
                TNs = 5,
                Streams = new List<StreamStats>
                {
                    new StreamStats { Id = 0, Name = "main", FramesIn = 10, FramesOut = 9, Dropped = 1, FpsIn = 30, FpsOut = 29.5,
                                      LatencyMsP50 = 12.5, LatencyMsP95 = 20, StageMs = new MsgPackMap().Add("style", 8L) },
                },
            });
            Assert.IsTrue(report.IsReport);
            Assert.IsTrue(report.Streams[0].StageMs["style"].IsFloat, "stage_ms values are floats on the wire");
            MsgPackMap header = Header("STATS").Add("streams", MsgPackValue.From(new List<MsgPackValue>
            {
                MsgPackValue.From(new MsgPackMap().Add("id", 0L).Add("name", "n").Add("frames_in", 1L).Add("frames_out", 1L)
                    .Add("dropped", 0L).Add("fps_in", 1.0).Add("fps_out", 1.0).Add("latency_ms_p50", 1.0).Add("latency_ms_p95", 1.0)
                    .Add("stage_ms", new MsgPackMap().Add("style", "slow"))),
            }));
            Assert.AreEqual(ErrorCode.BAD_FIELD, FailureOf(header).Code);
        }

        [Test]
        public void ResultDefaultsAndStageTimingTypes()
        {
            MsgPackMap plane = PlaneDescriptor.Packed("color", "RGBA8", 1, 1).ToWire();
            MsgPackMap header = Header("RESULT").Add("stream", 0L).Add("index", 4L).Add("t_capture_ns", 9L)
                .Add("planes", MsgPackValue.From(new List<MsgPackValue> { MsgPackValue.From(plane) }));
            var result = (Result)MessageCodec.Parse(new List<byte[]> { MsgPackWriter.Encode(header), new byte[4] });
            Assert.AreEqual(0L, result.ServerUs);
            Assert.AreEqual(0L, result.Dropped);
            Assert.IsFalse(result.Held);
            Assert.AreEqual(0, result.StageUs.Count);
            header.Add("stage_us", new MsgPackMap().Add("style", 1.5));
            Assert.AreEqual(ErrorCode.BAD_FIELD, FailureOf(header, new byte[4]).Code);
        }

        [Test]
        public void PlaneRules()
        {
            Func<PlaneDescriptor, MsgPackMap> frame = d => Header("FRAME").Add("stream", 0L).Add("index", 0L).Add("t_capture_ns", 0L)
                .Add("planes", MsgPackValue.From(new List<MsgPackValue> { MsgPackValue.From(d.ToWire()) }));
            // padded stride is fine when the part holds stride x height bytes
            var padded = new PlaneDescriptor("depth", "F32", 3, 2, 16);
            var parsed = (Frame)MessageCodec.Parse(new List<byte[]> { MsgPackWriter.Encode(frame(padded)), new byte[32] });
            Assert.AreEqual(16, parsed.Planes[0].Descriptor.Stride);
            Assert.AreEqual(ErrorCode.PLANE_MISMATCH, FailureOf(frame(padded), new byte[31]).Code);
            Assert.AreEqual(ErrorCode.PLANE_MISMATCH, FailureOf(frame(new PlaneDescriptor("depth", "F16", 3, 2, 7)), new byte[14]).Code);
            Assert.AreEqual(ErrorCode.PLANE_MISMATCH, FailureOf(frame(new PlaneDescriptor("mask", "RGBA8", 1, 1, 4)), new byte[4]).Code);
            Assert.AreEqual(ErrorCode.PLANE_MISMATCH, FailureOf(frame(new PlaneDescriptor("normal", "RGBA8", 1, 1, 4)), new byte[4]).Code);
            Assert.AreEqual(ErrorCode.LIMIT_EXCEEDED, FailureOf(frame(new PlaneDescriptor("mask", "U8", 0, 1, 1)), new byte[0]).Code);
            var five = new List<MsgPackValue>();
            for (int i = 0; i < 5; i++) five.Add(MsgPackValue.From(PlaneDescriptor.Packed("mask", "U8", 1, 1).ToWire()));
            MsgPackMap tooMany = Header("FRAME").Add("stream", 0L).Add("index", 0L).Add("t_capture_ns", 0L).Add("planes", MsgPackValue.From(five));
            Assert.AreEqual(ErrorCode.LIMIT_EXCEEDED, FailureOf(tooMany).Code);
            ProtocolException e = FailureOf(frame(padded));
            Assert.AreEqual(0L, e.Stream);
            Assert.AreEqual(0L, e.Index);
        }

        [Test]
        public void WelcomeAndErrorRoundTripWithEveryOptionalField()
        {
            var welcome = new Welcome
            {
                Server = "machinima-bridge 0.1.0", EngineId = "engine-7", Session = "take-01 café",
                Streams = new List<StreamGrant>
                {
                    new StreamGrant { Id = 0, Pipeline = "film", Stages = new List<string> { "film_look" }, Width = 64, Height = 32, ColorFormat = "RGBA8" },
                },
                HeartbeatMs = 200, TimeoutMs = 1500, MaxFrameBytes = 1 << 26,
            };
            var w = (Welcome)RoundTrip(welcome);
            Assert.AreEqual("film_look", w.Grant(0).Stages[0]);
            Assert.IsNull(w.Grant(1));
            var error = new Error { Code = 99, Name = "FROM_THE_FUTURE", Message = "m", RefKind = "FRAME", Stream = 1, Index = 2 };
            var back = (Error)RoundTrip(error);
            Assert.AreEqual(99L, back.Code, "unknown error numbers are kept");
            Assert.AreEqual("UNKNOWN_CODE_99", ErrorCodes.NameOf(99));
            Assert.AreEqual(error.ToHeader().ToString(), back.ToHeader().ToString());
        }

        [Test]
        public void MocapCarriesAnyFieldsAndParts()
        {
            var mocap = new Mocap();
            mocap.Fields.Add("performer", "p1").Add("anything", MsgPackValue.FromDoubles(new[] { 1.0 }));
            mocap.Parts.Add(new byte[] { 1, 2, 3 });
            var back = (Mocap)RoundTrip(mocap);
            Assert.AreEqual("p1", back.Fields["performer"].AsString);
            Assert.AreEqual(1, back.Parts.Count);
            Assert.AreEqual(3, back.Parts[0].Length);
        }

        [Test]
        public void SharedStateRules()
        {
            var set = (StateChange)RoundTrip(new StateChange { Key = "scene.cue", Value = MsgPackValue.From(new MsgPackMap().Add("act", 2L)) });
            Assert.AreEqual("set", set.Op);
            Assert.AreEqual(2L, set.Value.AsMap["act"].AsLong);
            var nil = (StateChange)RoundTrip(new StateChange { Key = "note", Value = MsgPackValue.Nil });
            Assert.IsTrue(nil.Value.IsNil, "nil is a valid STATE value");
            var delete = (StateChange)RoundTrip(new StateChange { Key = "note", Op = StateChange.OpDelete, Value = MsgPackValue.From(1L) });
            Assert.IsFalse(delete.ToHeader().ContainsKey("value"), "a delete carries no value");

            Assert.AreEqual(ErrorCode.BAD_FIELD, FailureOf(Header("STATE").Add("key", "")).Code);
            Assert.AreEqual(ErrorCode.BAD_FIELD, FailureOf(Header("STATE").Add("key", new string('k', 257)).Add("value", 1L)).Code);
            Assert.AreEqual(ErrorCode.BAD_FIELD, FailureOf(Header("STATE").Add("key", "k")).Code, "set without value");
            Assert.AreEqual(ErrorCode.BAD_FIELD, FailureOf(Header("STATE").Add("key", "k").Add("op", "toggle")).Code);
            Assert.AreEqual(ErrorCode.BAD_FIELD, FailureOf(Header("STATE").Add("key", "k").Add("value", MsgPackValue.FromBin(new byte[1]))).Code);
            ProtocolException big = FailureOf(Header("STATE").Add("key", "k").Add("value", new string('x', 16384)));
            Assert.AreEqual(ErrorCode.LIMIT_EXCEEDED, big.Code);

            var leave = (SessionEvent)RoundTrip(new SessionEvent { Session = "s", Event = SessionEvent.Leave, EngineId = "engine-3", Engine = "Unreal 5.4", Reason = "timeout" });
            Assert.AreEqual("timeout", leave.Reason);
            Assert.AreEqual(ErrorCode.BAD_FIELD, FailureOf(Header("SESSION").Add("session", "s").Add("event", "wave")
                .Add("engine_id", "e").Add("engine", "x")).Code);
        }

        [Test]
        public void ExtraPartsOnAKindWithoutPlanesArePlaneMismatch()
        {
            Assert.AreEqual(ErrorCode.PLANE_MISMATCH, FailureOf(Header("BYE"), new byte[1]).Code);
            Assert.AreEqual(ErrorCode.MALFORMED_HEADER, Assert.Throws<ProtocolException>(() => MessageCodec.Parse(new List<byte[]>())).Code);
        }
    }
}
