// Benchmarks of the C# side, printed as JSON lines (the Python driver puts them beside the
// Python client's figures measured in the same run):
//   rtt    round trip FRAME -> passthrough pipeline -> RESULT, one frame in flight, measured two
//          ways: "direct" (the calling thread polls the session, like the Python client) and
//          "worker" (frames handed to the session thread, as the Unity BridgeConnection does).
//   codec  header encode/decode, FRAME serialise/parse and row-flip copies, per call.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Standalone
{
    public static class BenchProbe
    {
        private sealed class Collector : IBridgeSessionListener
        {
            public Result LastResult;
            public void OnWelcome(Welcome welcome) { }
            public void OnMessage(BridgeMessage message) { var r = message as Result; if (r != null) LastResult = r; }
            public void OnStateChanged(SessionState state, string reason) { }
        }

        private static BridgeSessionOptions Options(string endpoint, int width, int height)
        {
            return new BridgeSessionOptions
            {
                Endpoint = endpoint,
                Engine = "machinima-bridge C# bench",
                Session = "bench",
                Streams = { new StreamDeclaration { Id = 0, Name = "bench", Width = width, Height = height, Pipeline = "passthrough" } },
            };
        }

        private static Frame RandomFrame(int width, int height, long index, byte[] color)
        {
            var f = new Frame { Stream = 0, Index = index, TCaptureNs = MonotonicClock.NowNs() };
            f.Planes.Add(new Plane(PlaneDescriptor.Packed(PlaneKinds.Color, PixelFormats.RGBA8, width, height), color));
            return f;
        }

        /// <summary>Round trips with the calling thread driving Poll (no hand-off between threads).</summary>
        public static List<double> RttDirect(string endpoint, int width, int height, int iterations, int warmup)
        {
            var rtt = new List<double>(iterations);
            var color = new byte[width * height * 4];
            new Random(0).NextBytes(color);
            using (var transport = new LibZmqTransport())
            {
                var collector = new Collector();
                var session = new BridgeSession(transport, Options(endpoint, width, height), collector);
                var watch = Stopwatch.StartNew();
                while (session.State != SessionState.Welcomed)
                {
                    if (watch.ElapsedMilliseconds > 30000) throw new TimeoutException("no WELCOME from " + endpoint);
                    session.Poll(10);
                }
                for (int i = 0; i < warmup + iterations; i++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    session.SubmitFrame(RandomFrame(width, height, i, color));
                    collector.LastResult = null;
                    var deadline = Stopwatch.StartNew();
                    while (collector.LastResult == null || collector.LastResult.Index != i)
                    {
                        if (deadline.ElapsedMilliseconds > 10000) throw new TimeoutException("no RESULT for frame " + i);
                        session.Poll(5);
                    }
                    long t1 = Stopwatch.GetTimestamp();
                    if (i >= warmup) rtt.Add((t1 - t0) * 1000.0 / Stopwatch.Frequency);
                }
                session.Shutdown("bench done");
            }
            return rtt;
        }

        /// <summary>Round trips through the session worker thread (the Unity path).</summary>
        public static List<double> RttWorker(string endpoint, int width, int height, int iterations, int warmup)
        {
            var rtt = new List<double>(iterations);
            var color = new byte[width * height * 4];
            new Random(0).NextBytes(color);
            using (var h = new SessionHarness(Options(endpoint, width, height), false))
            {
                h.Worker.Start();
                if (!h.WaitUntil(() => h.Session.State == SessionState.Welcomed, 30000)) throw new TimeoutException("no WELCOME from " + endpoint);
                for (int i = 0; i < warmup + iterations; i++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    h.Session.SubmitFrame(RandomFrame(width, height, i, color));
                    long want = i;
                    h.Await<Result>(r => r.Index == want, 10000, "RESULT of frame " + i);
                    long t1 = Stopwatch.GetTimestamp();
                    if (i >= warmup) rtt.Add((t1 - t0) * 1000.0 / Stopwatch.Frequency);
                }
            }
            return rtt;
        }

        private static double PerCallUs(Action action, int iterations)
        {
            for (int i = 0; i < Math.Min(iterations, 50); i++) action();
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < iterations; i++) action();
            return watch.Elapsed.TotalMilliseconds * 1000.0 / iterations;
        }

        public static void Codec()
        {
            var hello = new Hello { Engine = "Unity 2022.3.20f1", Client = "machinima-bridge-unity/0.1.0", Session = "take-01" };
            hello.Streams.Add(new StreamDeclaration { Id = 0, Name = "main", Width = 1920, Height = 1080, DepthFormat = "F32", Mask = true });
            var frame = LiveSessionProbe.MakeFrame(7, 1920, 1080, true);
            List<byte[]> frameParts = MessageCodec.Serialize(frame);
            byte[] helloHeader = MessageCodec.EncodeHeader(hello);
            byte[] frameHeader = frameParts[0];
            var resultPlane = new Plane(PlaneDescriptor.Packed(PlaneKinds.Color, PixelFormats.RGBA8, 1920, 1080), new byte[1920 * 1080 * 4]);
            var upload = new byte[1920 * 1080 * 4];
            var memcpyTarget = new byte[upload.Length];

            double helloEncode = PerCallUs(() => MessageCodec.EncodeHeader(hello), 20000);
            double helloParse = PerCallUs(() => MessageCodec.Parse(new List<byte[]> { helloHeader }), 20000);
            double frameEncode = PerCallUs(() => MessageCodec.EncodeHeader(frame), 20000);
            double frameParse = PerCallUs(() => MessageCodec.Parse(frameParts), 20000);
            double flip = PerCallUs(() => PlaneRows.PackForUpload(resultPlane, upload, true), 200);
            double memcpy = PerCallUs(() => Buffer.BlockCopy(resultPlane.Data, 0, memcpyTarget, 0, memcpyTarget.Length), 200);
            // AUDIO on the audio thread: one second of 48 kHz stereo in 480-frame callbacks through the
            // chunker (remix, float -> s16, 20 ms chunks), beside a plain float -> float copy of the same data.
            var block = new float[480 * 2];
            for (int i = 0; i < block.Length; i++) block[i] = (float)Math.Sin(i * 0.01);
            long chunks = 0;
            var chunker = new AudioChunker(48000, 2, 960, (t, pcm, n) => chunks++);
            long clock = 0;
            double audioSecond = PerCallUs(() =>
            {
                for (int b = 0; b < 100; b++, clock += 10000000L) chunker.Write(block, 480, 2, clock);
            }, 50);
            var blockCopy = new float[block.Length];
            double copySecond = PerCallUs(() =>
            {
                for (int b = 0; b < 100; b++) Buffer.BlockCopy(block, 0, blockCopy, 0, block.Length * 4);
            }, 50);
            var chunk = Audio.FromSamples(0, 1, 123456789L, 48000, 2, new short[960 * 2], 960);
            List<byte[]> chunkParts = MessageCodec.Serialize(chunk);
            double chunkEncode = PerCallUs(() => MessageCodec.Serialize(chunk), 20000);
            double chunkParse = PerCallUs(() => MessageCodec.Parse(chunkParts), 20000);
            new JsonLine("codec")
                .Add("hello_header_bytes", helloHeader.Length).Add("frame_header_bytes", frameHeader.Length)
                .Add("hello_encode_us", helloEncode).Add("hello_parse_us", helloParse)
                .Add("frame_header_encode_us", frameEncode).Add("frame_parse_us", frameParse)
                .Add("flip_1080p_rgba_us", flip).Add("memcpy_1080p_rgba_us", memcpy)
                .Add("flip_over_memcpy", flip / memcpy)
                .Add("audio_chunker_1s_48k_stereo_us", audioSecond).Add("audio_copy_1s_48k_stereo_us", copySecond)
                .Add("audio_chunker_over_copy", audioSecond / copySecond).Add("audio_chunker_realtime_factor", 1e6 / audioSecond)
                .Add("audio_chunk_20ms_encode_us", chunkEncode).Add("audio_chunk_20ms_parse_us", chunkParse).Print();
        }

        public static int Run(string endpoint, string[] sizes, int iterations)
        {
            foreach (string size in sizes)
            {
                string[] wh = size.Split('x');
                int width = int.Parse(wh[0]), height = int.Parse(wh[1]);
                foreach (string mode in new[] { "direct", "worker" })
                {
                    List<double> rtt = mode == "direct"
                        ? RttDirect(endpoint, width, height, iterations, 10)
                        : RttWorker(endpoint, width, height, iterations, 10);
                    rtt.Sort();
                    new JsonLine("rtt").Add("mode", mode).Add("width", width).Add("height", height).Add("iterations", iterations)
                        .Add("rtt_ms_p50", LatencyWindow.PercentileOfSorted(rtt, 50))
                        .Add("rtt_ms_p99", LatencyWindow.PercentileOfSorted(rtt, 99)).Print();
                }
            }
            return 0;
        }
    }
}
