// The server's take state followed by C# sessions (BridgeSession.CurrentTakeState / TakeStateChanged,
// what BridgeConnection and TakeRecorderControl show), while the Python test that owns the server
// starts and stops the take itself (as the CLI or OSC would):
//   - "first" joins with the capability "session" before any take: its snapshot says no take yet;
//     it then hears the take start (recording, name, timecode) and stop (status), and a TakeIndicator
//     fed from it raises Started and Stopped once each;
//   - "late" joins another session after the start: its snapshot holds the recording take, and it
//     hears the stop too;
//   - "deaf" joins without "session": the server tells it nothing, its take state stays unknown.
// One JSON line per take state heard ({"event": "take_state", "session": ...}); the test reacts to
// them; then one "done" line. Exits non-zero on the first failed check.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using MachinimaBridge.Core;

namespace MachinimaBridge.Standalone
{
    public static class TakeStateProbe
    {
        private const int TimeoutMs = 30000;

        private static void Require(bool ok, string what)
        {
            if (!ok) throw new InvalidOperationException("check failed: " + what);
        }

        private static BridgeSessionOptions Options(string endpoint, string session, string engine, params string[] capabilities)
        {
            var options = new BridgeSessionOptions
            {
                Endpoint = endpoint,
                Engine = engine,
                Client = "machinima-bridge-unity/0.1.0 probe",
                Session = session,
                WelcomeTimeoutMs = TimeoutMs,
            };
            options.Capabilities.AddRange(capabilities);
            return options;
        }

        private static TakeState Next(BlockingCollection<TakeState> states, string session, string what)
        {
            TakeState state;
            if (!states.TryTake(out state, TimeoutMs)) throw new TimeoutException("session " + session + " heard no take state (" + what + ") within " + TimeoutMs + " ms");
            new JsonLine("take_state").Add("session", session).Add("recording", state.Recording).Add("take", state.Take)
                .Add("timecode", state.Timecode).Add("status", state.Status).Add("text", state.ToString()).Print();
            return state;
        }

        private static SessionHarness Join(BridgeSessionOptions options, BlockingCollection<TakeState> states)
        {
            var h = new SessionHarness(options, false);
            if (states != null) h.Session.TakeStateChanged += states.Add;
            h.Worker.Start();
            Require(h.WaitUntil(() => h.Session.State == SessionState.Welcomed, TimeoutMs), options.Engine + ": WELCOME within 30 s (" + h.Session.LastError + ")");
            return h;
        }

        public static int Run(string endpoint)
        {
            var firstStates = new BlockingCollection<TakeState>();
            var lateStates = new BlockingCollection<TakeState>();
            var indicatorEvents = new List<string>();
            var indicator = new TakeIndicator();
            indicator.Started += take => { lock (indicatorEvents) indicatorEvents.Add("started " + take); };
            indicator.Stopped += take => { lock (indicatorEvents) indicatorEvents.Add("stopped " + take); };

            using (SessionHarness first = Join(Options(endpoint, "csharp-stage", "C# take-state probe (first)", "session"), firstStates))
            {
                first.Session.TakeStateChanged += indicator.Apply; // the worker thread only: one thread feeds it
                TakeState before = Next(firstStates, "first", "the snapshot");
                Require(before.Equals(TakeState.NoTake), "the snapshot before any take says no take, not " + before);
                TakeState started = Next(firstStates, "first", "the start");
                Require(started.Recording && started.Take != null, "the take started: " + started);

                using (SessionHarness late = Join(Options(endpoint, "csharp-late-stage", "C# take-state probe (late)", "session"), lateStates))
                using (SessionHarness deaf = Join(Options(endpoint, "csharp-stage", "C# take-state probe (deaf)"), null))
                {
                    TakeState joined = Next(lateStates, "late", "the snapshot during the take");
                    Require(joined.Equals(started), "the late snapshot holds the recording take: " + joined + " vs " + started);
                    TakeState stopped = Next(firstStates, "first", "the stop");
                    TakeState lateStopped = Next(lateStates, "late", "the stop");
                    Require(!stopped.Recording && stopped.Take == started.Take, "the take stopped: " + stopped);
                    Require(lateStopped.Equals(stopped), "both sessions heard the same stop");
                    // Nothing more: a later SESSION join/leave or an unrelated key changes no take state.
                    TakeState extra;
                    bool more = firstStates.TryTake(out extra, 300) || lateStates.TryTake(out extra, 0);
                    string[] events;
                    lock (indicatorEvents) events = indicatorEvents.ToArray();
                    new JsonLine("done")
                        .Add("first", first.Session.CurrentTakeState.ToString())
                        .Add("late", late.Session.CurrentTakeState.ToString())
                        .Add("first_follows", first.Session.FollowsTakeState)
                        .Add("deaf_follows", deaf.Session.FollowsTakeState)
                        .Add("deaf_state", deaf.Session.CurrentTakeState == null ? null : deaf.Session.CurrentTakeState.ToString())
                        .Add("more_states", more)
                        .Add("indicator", indicator.ToString())
                        .Add("indicator_events", string.Join("|", events))
                        .Add("first_error", first.Session.LastError)
                        .Print();
                    Require(deaf.Worker.Stop("take-state probe finished", 3000), "deaf worker stopped");
                    Require(late.Worker.Stop("take-state probe finished", 3000), "late worker stopped");
                }
                Require(first.Worker.Stop("take-state probe finished", 3000), "first worker stopped");
            }
            return 0;
        }
    }
}
