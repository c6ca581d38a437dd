// Sound beside pictures through the real server (docs/protocol.md 6.14): a stream declared with
// 48 kHz stereo audio sends FRAMEs in lock step and, between them, a 440 Hz tone cut into 20 ms
// AUDIO chunks by the AudioChunker (as AudioStreamSender does on Unity's audio thread), plus one
// chunk through SubmitAudio(short[]). Then:
//   - STATS as a sync point: every chunk before it was checked by the server without an ERROR;
//   - a chunk repeating the last index is refused with BAD_FIELD naming that index, which proves
//     the server accepted the chunks up to it;
//   - a mono chunk on the stereo stream is refused with PLANE_MISMATCH (ref_kind AUDIO);
//   - frames still flow afterwards.
// One JSON line per step on stdout; exits non-zero on the first failed check.
using System;
using System.Collections.Generic;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Standalone
{
    public static class AudioProbe
    {
        private const int Width = 64;
        private const int Height = 48;
        private const int RateHz = 48000;
        private const int Channels = 2;
        private const int Frames = 20;

        private static void Require(bool ok, string what)
        {
            if (!ok) throw new InvalidOperationException("check failed: " + what);
        }

        private static Error AwaitError(SessionHarness h, string what)
        {
            return h.Await<Error>(e => e.RefKind == MessageKinds.Audio, 15000, what);
        }

        public static int Run(string endpoint)
        {
            var options = new BridgeSessionOptions
            {
                Endpoint = endpoint,
                Engine = "machinima-bridge C# audio probe",
                Client = "machinima-bridge-unity/0.1.0 probe",
                Session = "csharp-audio",
                WelcomeTimeoutMs = 30000,
                Capabilities = { "audio" },
                Streams =
                {
                    new StreamDeclaration
                    {
                        Id = 0, Name = "probe-cam", Width = Width, Height = Height, ColorFormat = PixelFormats.RGBA8,
                        Fps = 25.0, Pipeline = "passthrough", Audio = new AudioFormat(RateHz, Channels),
                    },
                },
            };
            using (var h = new SessionHarness(options, false))
            {
                h.Worker.Start();
                Require(h.WaitUntil(() => h.Session.State == SessionState.Welcomed, 30000), "WELCOME within 30 s (" + h.Session.LastError + ")");

                // Local checks name the cause before anything reaches the wire.
                string localRefusal = null;
                try
                {
                    h.Session.SubmitAudio(0, MonotonicClock.NowNs(), new short[480], RateHz, 1);
                }
                catch (ArgumentException e)
                {
                    localRefusal = e.Message;
                }
                Require(localRefusal != null, "a mono chunk on a stereo stream is refused locally");

                var indices = new List<long>();
                AudioChunker chunker = null;
                chunker = new AudioChunker(RateHz, Channels, AudioChunker.SamplesFor(RateHz, 20),
                    (t, pcm, samples) => indices.Add(h.Session.SubmitAudioPcm(0, t, pcm, RateHz, Channels)));
                double phase = 0;
                int results = 0;
                for (long index = 0; index < Frames; index++)
                {
                    Frame frame = LiveSessionProbe.MakeFrame(index, Width, Height, false);
                    Require(h.Session.SubmitFrame(frame), "frame " + index + " accepted");
                    // 40 ms of a mono 440 Hz tone per frame (25 fps), in two blocks as an audio callback gives them
                    for (int block = 0; block < 2; block++)
                    {
                        var tone = new float[960];
                        for (int i = 0; i < tone.Length; i++, phase += 2 * Math.PI * 440 / RateHz) tone[i] = (float)(0.5 * Math.Sin(phase));
                        chunker.Write(tone, tone.Length, 1, MonotonicClock.NowNs());
                    }
                    long want = index;
                    h.Await<Result>(r => r.Index == want, 15000, "RESULT of frame " + index);
                    results++;
                }
                chunker.Flush();
                var direct = new short[2 * 480];
                for (int i = 0; i < direct.Length; i++) direct[i] = (short)(i % 2 == 0 ? 1000 : -1000);
                indices.Add(h.Session.SubmitAudio(0, MonotonicClock.NowNs(), direct, RateHz, Channels));

                // STATS: the server answers after it has handled every chunk sent before
                Require(h.WaitUntil(() => h.Session.Counters(0).Snapshot(MonotonicClock.NowNs()).AudioChunksSent == indices.Count, 15000),
                        "every chunk left the queue");
                h.Session.SubmitStatsRequest();
                Stats stats = h.Await<Stats>(s => s.IsReport, 15000, "STATS after the chunks (an ERROR here is a refused chunk)");
                StreamCountersSnapshot counters = h.Session.Counters(0).Snapshot(MonotonicClock.NowNs());
                bool consecutive = true;
                for (int i = 0; i < indices.Count; i++) consecutive &= indices[i] == i;
                new JsonLine("audio").Add("frames", (long)Frames).Add("results", results)
                    .Add("chunks", indices.Count).Add("indices_consecutive", consecutive)
                    .Add("chunks_sent", counters.AudioChunksSent).Add("chunks_dropped", counters.AudioChunksDropped)
                    .Add("chunk_samples", chunker.ChunkSamples).Add("clock_resyncs", chunker.Resyncs)
                    .Add("stats_frames_in", stats.Streams.Count > 0 ? stats.Streams[0].FramesIn : -1)
                    .Add("local_refusal", localRefusal).Print();

                // A repeated index: the server names the last chunk it accepted.
                long last = indices[indices.Count - 1];
                h.Session.SubmitMessage(Audio.FromSamples(0, last, MonotonicClock.NowNs(), RateHz, Channels, direct, 480));
                Error repeated = AwaitError(h, "ERROR for a repeated AUDIO index");
                new JsonLine("repeated").Add("name", repeated.Name).Add("stream", repeated.Stream ?? -1)
                    .Add("index", repeated.Index ?? -1).Add("message", repeated.Message).Add("last_index", last).Print();

                // The wrong channel count for the declaration.
                var mono = new short[480];
                h.Session.SubmitMessage(Audio.FromSamples(0, last + 1, MonotonicClock.NowNs(), RateHz, 1, mono, 480));
                Error wrong = AwaitError(h, "ERROR for a mono chunk on the stereo stream");
                new JsonLine("wrong_channels").Add("name", wrong.Name).Add("ref_kind", wrong.RefKind)
                    .Add("stream", wrong.Stream ?? -1).Add("index", wrong.Index ?? -1).Add("message", wrong.Message).Print();

                // Frames still flow.
                Require(h.Session.SubmitFrame(LiveSessionProbe.MakeFrame(Frames, Width, Height, false)), "a frame after the refusals");
                h.Await<Result>(r => r.Index == Frames, 15000, "RESULT after the refused chunks");
                new JsonLine("after").Add("state", h.Session.State.ToString()).Add("reconnects", h.Session.Reconnects).Print();
                Require(h.Worker.Stop("audio probe finished", 3000), "worker stopped");
            }
            return 0;
        }
    }
}
