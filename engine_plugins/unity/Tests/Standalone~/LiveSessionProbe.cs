// The live session the Python test drives against the real server (in a child process):
//   1. HELLO/WELCOME; 100 FRAMEs of 512x512 RGBA8 (+ F32 depth, U8 mask, camera, timecode) in
//      lock step, RESULTs back in order with the right sizes and content; a burst of frames whose
//      RESULTs + reported drops add up; a CONTROL that shows in the output; a rejected CONTROL;
//      STATS; 3.5 s idle kept alive by heartbeats only.
//   2. The Python side SIGKILLs the server and starts a new one: the session notices the silence,
//      reconnects with a new socket and a new HELLO, and frames flow again.
//   3. The Python side stops the server with SIGTERM: its BYE is received, and the session
//      reconnects to the next server.
//   4. Stop: BYE to the server, thread ended, in bounded time.
// Every result is one JSON line on stdout; the probe exits non-zero on the first failed check.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Standalone
{
    public static class LiveSessionProbe
    {
        private const int Width = 512;
        private const int Height = 512;
        private const string Pipeline = "film";
        private const string Stage = "film_look";
        /// <summary>The idle pause: well beyond the test server's timeout_ms (1500), so only heartbeats keep the session.</summary>
        private const int IdleMs = 3500;

        private static void Require(bool ok, string what)
        {
            if (!ok) throw new InvalidOperationException("check failed: " + what);
        }

        public static Frame MakeFrame(long index, int width, int height, bool withDepthAndMask)
        {
            var color = new byte[width * height * 4];
            for (int y = 0; y < height; y++)
            {
                int row = y * width * 4;
                for (int x = 0; x < width; x++)
                {
                    int o = row + x * 4;
                    color[o] = (byte)(x + index);
                    color[o + 1] = (byte)(y * 3 + index);
                    color[o + 2] = (byte)(x ^ y);
                    color[o + 3] = 255;
                }
            }
            var frame = new Frame
            {
                Stream = 0,
                Index = index,
                TCaptureNs = MonotonicClock.NowNs(),
                Timecode = "00:00:" + (index / 30 % 60).ToString("00") + ":" + (index % 30).ToString("00"),
            };
            frame.Planes.Add(new Plane(PlaneDescriptor.Packed(PlaneKinds.Color, PixelFormats.RGBA8, width, height), color));
            if (withDepthAndMask)
            {
                var depth = new byte[width * height * 4];
                byte[] twoMetres = BitConverter.GetBytes(2.0f); // little-endian on every platform Unity ships
                for (int i = 0; i < width * height; i++) Buffer.BlockCopy(twoMetres, 0, depth, i * 4, 4);
                var mask = new byte[width * height];
                for (int i = 0; i < mask.Length; i++) mask[i] = (byte)((i % width) < width / 2 ? 255 : 0);
                frame.Planes.Add(new Plane(PlaneDescriptor.Packed(PlaneKinds.Depth, PixelFormats.F32, width, height), depth));
                frame.Planes.Add(new Plane(PlaneDescriptor.Packed(PlaneKinds.Mask, PixelFormats.U8, width, height), mask));
                frame.Camera = new CameraInfo
                {
                    WorldFromCamera = CameraConventions.WorldFromCamera(new Vec3d(0, 1.6, -3), Quatd.Identity),
                    IntrinsicsPx = CameraConventions.IntrinsicsFromVerticalFov(60, width, height),
                    NearM = 0.1,
                    FarM = 1000,
                };
            }
            return frame;
        }

        /// <summary>Largest and mean absolute RGB difference between a sent RGBA8 frame and a RESULT colour plane.</summary>
        private static void CompareRgb(Frame sent, Result result, out int maxDiff, out double meanDiff)
        {
            Plane input = sent.Plane(PlaneKinds.Color);
            Plane output = result.Plane(PlaneKinds.Color);
            PlaneDescriptor d = output.Descriptor;
            int outBpp = PixelFormats.BytesPerPixel(d.Format);
            bool bgr = d.Format == PixelFormats.BGRA8;
            maxDiff = 0;
            long sum = 0;
            for (int y = 0; y < d.Height; y++)
            {
                for (int x = 0; x < d.Width; x++)
                {
                    int i = (y * Width + x) * 4;
                    int o = y * d.Stride + x * outBpp;
                    for (int c = 0; c < 3; c++)
                    {
                        int oc = bgr ? 2 - c : c;
                        int diff = Math.Abs(input.Data[i + c] - output.Data[o + oc]);
                        sum += diff;
                        if (diff > maxDiff) maxDiff = diff;
                    }
                }
            }
            meanDiff = sum / (3.0 * d.Width * d.Height);
        }

        public static int Run(string endpoint)
        {
            var options = new BridgeSessionOptions
            {
                Endpoint = endpoint,
                Engine = "machinima-bridge C# probe (Mono " + Environment.Version + ")",
                Client = "machinima-bridge-unity/0.1.0 probe",
                Session = "csharp-live",
                HeartbeatMs = 100,
                WelcomeTimeoutMs = 20000,
                ReconnectDelayMs = 100,
                MaxReconnectDelayMs = 1000,
                Capabilities = { "depth", "mask", "camera" },
                Streams =
                {
                    new StreamDeclaration
                    {
                        Id = 0, Name = "probe-cam", Width = Width, Height = Height, ColorFormat = PixelFormats.RGBA8,
                        DepthFormat = PixelFormats.F32, Mask = true, Fps = 30.0, Pipeline = Pipeline,
                    },
                },
            };
            using (var h = new SessionHarness(options, true))
            {
                h.Worker.Start();
                Require(h.WaitUntil(() => h.Session.State == SessionState.Welcomed, 30000), "WELCOME within 30 s (" + h.Session.LastError + ")");
                Welcome welcome = h.Session.Welcome;
                StreamGrant grant = welcome.Grant(0);
                Require(grant != null && grant.Pipeline == Pipeline, "grant for stream 0 runs pipeline " + Pipeline);
                Require(grant.Stages.Contains(Stage), "grant lists stage " + Stage);
                new JsonLine("welcome").Add("engine_id", welcome.EngineId).Add("session", welcome.Session)
                    .Add("heartbeat_ms", welcome.HeartbeatMs).Add("timeout_ms", welcome.TimeoutMs)
                    .Add("max_frame_bytes", welcome.MaxFrameBytes).Add("stages", string.Join(",", grant.Stages.ToArray())).Print();

                long index = 0;
                // --- 100 frames in lock step: every RESULT in order, right size and format, content unchanged
                var rtts = new List<double>();
                int worstDiff = 0;
                bool sizesOk = true, inOrder = true;
                long lastIndex = -1;
                for (int i = 0; i < 100; i++, index++)
                {
                    Frame f = MakeFrame(index, Width, Height, true);
                    Require(h.Session.SubmitFrame(f), "frame " + index + " accepted");
                    long want = index;
                    Result r = h.Await<Result>(x => x.Index == want, 15000, "RESULT of frame " + index);
                    rtts.Add((MonotonicClock.NowNs() - r.TCaptureNs) / 1e6);
                    Require(r.TCaptureNs == f.TCaptureNs, "t_capture_ns echoed");
                    Plane color = r.Plane(PlaneKinds.Color);
                    sizesOk &= color != null && color.Descriptor.Width == grant.Width && color.Descriptor.Height == grant.Height
                               && color.Descriptor.Format == grant.ColorFormat && color.Data.Length == color.Descriptor.ByteLength;
                    inOrder &= r.Index > lastIndex;
                    lastIndex = r.Index;
                    int maxDiff;
                    double meanDiff;
                    CompareRgb(f, r, out maxDiff, out meanDiff);
                    worstDiff = Math.Max(worstDiff, maxDiff);
                }
                rtts.Sort();
                new JsonLine("lockstep").Add("frames", 100L).Add("in_order", inOrder).Add("sizes_ok", sizesOk)
                    .Add("max_rgb_diff", worstDiff).Add("rtt_ms_p50", LatencyWindow.PercentileOfSorted(rtts, 50))
                    .Add("rtt_ms_p99", LatencyWindow.PercentileOfSorted(rtts, 99)).Print();

                // --- a burst faster than the pipeline: RESULTs in increasing order, RESULTs + reported drops = frames sent
                StreamCountersSnapshot before = h.Session.Counters(0).Snapshot(MonotonicClock.NowNs());
                long burstFirst = index;
                for (int i = 0; i < 40; i++, index++) h.Session.SubmitFrame(MakeFrame(index, Width, Height, false));
                Func<StreamCountersSnapshot> now = () => h.Session.Counters(0).Snapshot(MonotonicClock.NowNs());
                bool settled = h.WaitUntil(() =>
                {
                    StreamCountersSnapshot s = now();
                    long sent = s.FramesSent - before.FramesSent;
                    bool allLeft = sent + (s.FramesReplacedBeforeSend - before.FramesReplacedBeforeSend)
                                   + (s.FramesRefusedQueueFull - before.FramesRefusedQueueFull) == 40;
                    return allLeft && (s.ResultsReceived - before.ResultsReceived) + (s.ServerDropped - before.ServerDropped) == sent;
                }, 20000);
                StreamCountersSnapshot after = now();
                var burstIndices = new List<long>();
                BridgeMessage m;
                while (h.Messages.TryTake(out m)) if (m is Result) burstIndices.Add(((Result)m).Index);
                bool burstOrdered = true;
                for (int i = 1; i < burstIndices.Count; i++) burstOrdered &= burstIndices[i] > burstIndices[i - 1];
                new JsonLine("burst").Add("submitted", 40L).Add("sent", after.FramesSent - before.FramesSent)
                    .Add("replaced_before_send", after.FramesReplacedBeforeSend - before.FramesReplacedBeforeSend)
                    .Add("refused_queue_full", after.FramesRefusedQueueFull - before.FramesRefusedQueueFull)
                    .Add("results", after.ResultsReceived - before.ResultsReceived)
                    .Add("server_dropped", after.ServerDropped - before.ServerDropped)
                    .Add("accounted", settled).Add("in_order", burstOrdered)
                    .Add("first_index", burstFirst).Add("result_indices", burstIndices).Print();

                // --- CONTROL: fade 1.0 visibly changes the output; an unknown parameter is rejected
                long requestId = h.Session.SubmitControl(0, Stage, ControlParams.Single("fade", 1.0));
                ControlAck ack = h.Await<ControlAck>(a => a.RequestId == requestId, 10000, "CONTROL_ACK " + requestId);
                Frame probe = MakeFrame(index, Width, Height, false);
                h.Session.SubmitFrame(probe);
                long probeIndex = index++;
                Result changed = h.Await<Result>(x => x.Index == probeIndex, 15000, "RESULT after CONTROL");
                int changedMax;
                double changedMean;
                CompareRgb(probe, changed, out changedMax, out changedMean);
                long badId = h.Session.SubmitControl(0, Stage, ControlParams.Single("no_such_param", 1.0));
                ControlAck rejected = h.Await<ControlAck>(a => a.RequestId == badId, 10000, "CONTROL_ACK " + badId);
                new JsonLine("control").Add("ok", ack.Ok)
                    .AddRaw("applied", ack.Applied.ToString())
                    .Add("mean_rgb_diff_after", changedMean)
                    .Add("rejected_ok", rejected.Ok).Add("rejected_code", rejected.Code.HasValue ? rejected.Code.Value : -1)
                    .Add("rejected_reason", rejected.Reason).Print();

                // --- STATS
                h.Session.SubmitStatsRequest();
                Stats stats = h.Await<Stats>(s => s.IsReport, 10000, "STATS report");
                new JsonLine("stats").Add("streams", stats.Streams.Count)
                    .Add("frames_in", stats.Streams.Count > 0 ? stats.Streams[0].FramesIn : -1)
                    .Add("frames_out", stats.Streams.Count > 0 ? stats.Streams[0].FramesOut : -1)
                    .Add("name", stats.Streams.Count > 0 ? stats.Streams[0].Name : null).Print();

                // --- idle: only heartbeats keep the session (the server's timeout is far shorter than the pause)
                long heartbeatsBefore = h.Session.HeartbeatsSent;
                long welcomesBefore = h.Session.WelcomesReceived;
                System.Threading.Thread.Sleep(IdleMs);
                bool byeDuringIdle = false;
                while (h.Messages.TryTake(out m)) byeDuringIdle |= m is Bye;
                h.Session.SubmitFrame(MakeFrame(index, Width, Height, false));
                long afterIdle = index++;
                h.Await<Result>(x => x.Index == afterIdle, 15000, "RESULT after the idle pause");
                new JsonLine("idle").Add("idle_ms", (long)IdleMs).Add("heartbeats_sent", h.Session.HeartbeatsSent - heartbeatsBefore)
                    .Add("new_welcomes", h.Session.WelcomesReceived - welcomesBefore).Add("bye_received", byeDuringIdle).Print();

                // --- the server is killed (no BYE): notice the silence, reconnect, stream again
                new JsonLine("ready").Add("next", "kill").Print();
                long welcomesBeforeKill = h.Session.WelcomesReceived;
                var watch = Stopwatch.StartNew();
                bool back = StreamUntilNewWelcome(h, welcomesBeforeKill, ref index, 60000);
                Require(back, "frames flow again after the server was killed (" + h.Session.LastError + ")");
                new JsonLine("reconnected").Add("after", "kill").Add("ms", watch.ElapsedMilliseconds)
                    .Add("last_error", h.Session.LastError).Add("reconnects", h.Session.Reconnects).Print();

                // --- the server stops cleanly: its BYE arrives; reconnect to the next one
                System.Threading.Thread.Sleep(200);
                while (h.Messages.TryTake(out m)) { } // RESULTs and errors left from the reconnect
                new JsonLine("ready").Add("next", "term").Print();
                Bye bye = h.Await<Bye>(null, 60000, "BYE from the stopping server");
                long welcomesBeforeTerm = h.Session.WelcomesReceived;
                watch = Stopwatch.StartNew();
                back = StreamUntilNewWelcome(h, welcomesBeforeTerm, ref index, 60000);
                Require(back, "frames flow again after the server said BYE (" + h.Session.LastError + ")");
                new JsonLine("reconnected").Add("after", "term").Add("bye_reason", bye.Reason).Add("ms", watch.ElapsedMilliseconds).Print();

                // --- clean shutdown: BYE, thread ended, bounded time
                watch = Stopwatch.StartNew();
                bool ended = h.Worker.Stop("probe finished", 3000);
                new JsonLine("stopped").Add("thread_ended", ended).Add("stop_ms", watch.ElapsedMilliseconds)
                    .Add("state", h.Session.State.ToString()).Add("parse_errors", h.Session.ParseErrors).Print();
            }
            return 0;
        }

        /// <summary>Submit a frame every 50 ms until a RESULT arrives on a session welcomed after <paramref name="welcomesBefore"/>.</summary>
        private static bool StreamUntilNewWelcome(SessionHarness h, long welcomesBefore, ref long index, int timeoutMs)
        {
            var watch = Stopwatch.StartNew();
            while (watch.ElapsedMilliseconds < timeoutMs)
            {
                h.Session.SubmitFrame(MakeFrame(index++, Width, Height, false));
                BridgeMessage m;
                while (h.Messages.TryTake(out m, 50))
                {
                    if (m is Result && h.Session.WelcomesReceived > welcomesBefore) return true;
                }
            }
            return false;
        }
    }
}
