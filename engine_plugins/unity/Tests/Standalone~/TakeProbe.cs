// Takes started and stopped from the C# session (BridgeSession.StartTake / StopTake) against the
// real server, as TakeRecorderControl does in Unity:
//   - a bad take name is refused here, before anything is sent, saying why;
//   - a stop while no take records is refused by the server (BAD_PARAM_VALUE, with the reason);
//   - a named take starts (the ack has its name, folder and start timecode), FRAMES frames with
//     depth and mask go through in lock step, a second start is refused (already recording), the
//     take stops (status "stopping" or "complete"), and starting a take of the same name again is
//     refused (the folder exists);
//   - then a session that declares no stream (a director console) starts and stops a take named
//     TAKE_NAME-director: its take CONTROLs go out on stream 0 (checked on the bytes sent).
// The Python test then opens the takes with bridge.takes.reader.TakeReader and checks the frames.
// One JSON line per step on stdout; exits non-zero on the first failed check.
using System;
using System.Collections.Concurrent;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Standalone
{
    public static class TakeProbe
    {
        private const int Width = 64;
        private const int Height = 48;
        public const long StreamId = 4; // any declared stream carries the take CONTROL

        private static void Require(bool ok, string what)
        {
            if (!ok) throw new InvalidOperationException("check failed: " + what);
        }

        private static TakeAck AwaitTake(BlockingCollection<TakeAck> acks, long requestId, string what)
        {
            TakeAck ack;
            while (acks.TryTake(out ack, 15000))
            {
                if (ack.RequestId == requestId) return ack;
            }
            throw new TimeoutException("no answer to the take " + what + " (request " + requestId + ") within 15 s");
        }

        private static JsonLine Report(string eventName, TakeAck ack)
        {
            return new JsonLine(eventName).Add("request_id", ack.RequestId).Add("ok", ack.Ok).Add("record", ack.Record)
                .Add("take", ack.Take).Add("path", ack.Path).Add("timecode", ack.Timecode).Add("status", ack.Status)
                .Add("code", ack.Code ?? -1).Add("reason", ack.Reason).Add("text", ack.ToString());
        }

        public static int Run(string endpoint, string takeName, int frames)
        {
            var options = new BridgeSessionOptions
            {
                Endpoint = endpoint,
                Engine = "machinima-bridge C# take probe",
                Client = "machinima-bridge-unity/0.1.0 probe",
                Session = "csharp-takes",
                WelcomeTimeoutMs = 30000,
                Capabilities = { "depth", "mask", "camera" },
                Streams =
                {
                    new StreamDeclaration
                    {
                        Id = StreamId, Name = "take-cam", Width = Width, Height = Height, ColorFormat = PixelFormats.RGBA8,
                        DepthFormat = PixelFormats.F32, Mask = true, Fps = 30.0, Pipeline = "passthrough",
                    },
                },
            };
            using (var h = new SessionHarness(options, false))
            {
                var acks = new BlockingCollection<TakeAck>();
                h.Session.TakeAcknowledged += acks.Add;
                h.Worker.Start();
                Require(h.WaitUntil(() => h.Session.State == SessionState.Welcomed, 30000), "WELCOME within 30 s (" + h.Session.LastError + ")");

                // A name the server would refuse never leaves this process.
                string localRefusal = null;
                try
                {
                    h.Session.StartTake("scene 4/take");
                }
                catch (ArgumentException e)
                {
                    localRefusal = e.Message;
                }
                new JsonLine("bad_name").Add("refused", localRefusal != null).Add("message", localRefusal)
                    .Add("pending", h.Session.PendingTakeRequests).Print();
                Require(localRefusal != null, "a take name with ' ' and '/' is refused locally");

                // Nothing records yet: a stop is refused by the server.
                TakeAck idleStop = AwaitTake(acks, h.Session.StopTake(), "stop while idle");
                Report("stop_idle", idleStop).Print();

                // The take: start, frames, a second start refused, stop.
                TakeAck started = AwaitTake(acks, h.Session.StartTake(takeName), "start");
                Report("started", started).Print();
                Require(started.Ok, "the take started: " + started);

                int results = 0;
                for (long index = 0; index < frames; index++)
                {
                    Require(h.Session.SubmitFrame(WithStream(LiveSessionProbe.MakeFrame(index, Width, Height, true))), "frame " + index + " accepted");
                    long want = index;
                    h.Await<Result>(r => r.Index == want && r.Stream == StreamId, 15000, "RESULT of frame " + index);
                    results++;
                }
                new JsonLine("frames").Add("sent", (long)frames).Add("results", results).Print();

                TakeAck twice = AwaitTake(acks, h.Session.StartTake(takeName + "-again"), "second start");
                Report("start_twice", twice).Print();

                TakeAck stopped = AwaitTake(acks, h.Session.StopTake(), "stop");
                Report("stopped", stopped).Print();
                Require(stopped.Ok, "the take stopped: " + stopped);

                TakeAck sameName = AwaitTake(acks, h.Session.StartTake(takeName), "start with a used name");
                Report("same_name", sameName).Print();

                TakeAck last = h.Session.LastTakeAck;
                new JsonLine("after").Add("state", h.Session.State.ToString()).Add("reconnects", h.Session.Reconnects)
                    .Add("pending", h.Session.PendingTakeRequests).Add("last_request_id", last == null ? -1 : last.RequestId).Print();
                Require(h.Worker.Stop("take probe finished", 3000), "worker stopped");
            }
            RunStreamless(endpoint, takeName + "-director");
            return 0;
        }

        /// <summary>A session with no stream in its HELLO starts and stops a take: the CONTROLs carry stream 0.</summary>
        private static void RunStreamless(string endpoint, string takeName)
        {
            var options = new BridgeSessionOptions
            {
                Endpoint = endpoint,
                Engine = "machinima-bridge C# director console",
                Client = "machinima-bridge-unity/0.1.0 probe",
                Session = "csharp-takes",
                WelcomeTimeoutMs = 30000,
            };
            using (var h = new SessionHarness(options, false, true))
            {
                var acks = new BlockingCollection<TakeAck>();
                h.Session.TakeAcknowledged += acks.Add;
                h.Worker.Start();
                Require(h.WaitUntil(() => h.Session.State == SessionState.Welcomed, 30000), "stream-less WELCOME within 30 s (" + h.Session.LastError + ")");
                Require(h.Session.Welcome.Streams.Count == 0, "the stream-less session was granted no stream");

                TakeAck started = AwaitTake(acks, h.Session.StartTake(takeName), "stream-less start");
                Report("streamless_started", started).Print();
                TakeAck stopped = AwaitTake(acks, h.Session.StopTake(), "stream-less stop");
                Report("streamless_stopped", stopped).Print();

                var sent = new JsonLine("streamless_sent").Add("take_stream", h.Session.TakeStream);
                for (int i = 0; i < 2; i++)
                {
                    Control control;
                    Require(h.SentControls.TryTake(out control, 5000), "take CONTROL " + (i + 1) + " seen on the wire");
                    string prefix = i == 0 ? "start_" : "stop_";
                    sent.Add(prefix + "request_id", control.RequestId).Add(prefix + "stream", control.Stream).Add(prefix + "stage", control.Stage);
                }
                sent.Print();
                Require(h.Worker.Stop("stream-less take probe finished", 3000), "stream-less worker stopped");
            }
        }

        /// <summary>
        /// The take name rule on every name of a file (one per line, UTF-8 as hex, so any character fits):
        /// one JSON line per name with the verdict and the reason, for the test that compares it with the server's.
        /// </summary>
        public static int Names(string path)
        {
            foreach (string line in System.IO.File.ReadAllLines(path))
            {
                var bytes = new byte[line.Length / 2];
                for (int i = 0; i < bytes.Length; i++) bytes[i] = Convert.ToByte(line.Substring(2 * i, 2), 16);
                string name = System.Text.Encoding.UTF8.GetString(bytes);
                string problem = TakeControl.NameProblem(name);
                new JsonLine("name").Add("hex", line).Add("valid", problem == null).Add("problem", problem).Print();
            }
            return 0;
        }

        private static Frame WithStream(Frame frame)
        {
            frame.Stream = StreamId;
            return frame;
        }
    }
}
