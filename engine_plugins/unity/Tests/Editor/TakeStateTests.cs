// The server's take state (Runtime/Core/TakeState.cs): the STATE key "bridge.take" and the SESSION
// snapshot read into a TakeState, malformed values refused naming the field, changes by engines
// ignored; and TakeIndicator (Runtime/Core/TakeIndicator.cs), what TakeRecorderControl shows, fed by
// own acks and the server's state. The live behaviour against the server is tested by
// tests/integration/test_unity_csharp_protocol.py.
using System;
using System.Collections.Generic;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;
using NUnit.Framework;

namespace MachinimaBridge.Tests
{
    [TestFixture]
    public class TakeStateTests
    {
        private static MsgPackValue Value(MsgPackMap map)
        {
            return MsgPackValue.From(map);
        }

        /// <summary>A STATE change as the server sends it, through real bytes.</summary>
        private static StateChange ServerChange(string key, MsgPackValue value, string by = TakeState.ServerAuthor, string op = StateChange.OpSet)
        {
            var change = new StateChange { Key = key, Op = op, Value = value, By = by, Version = 3 };
            return (StateChange)MessageCodec.Parse(MessageCodec.Serialize(change));
        }

        private static SessionEvent Snapshot(MsgPackMap state)
        {
            var ev = new SessionEvent { Session = "forum", Event = SessionEvent.Snapshot, EngineId = "engine-1", Engine = "Unity", State = state };
            return (SessionEvent)MessageCodec.Parse(MessageCodec.Serialize(ev));
        }

        private static MsgPackMap Started(string take)
        {
            return new MsgPackMap().Add("recording", true).Add("take", take).Add("timecode", "10:00:00:00");
        }

        private static MsgPackMap Stopped(string take, string status)
        {
            return new MsgPackMap().Add("recording", false).Add("take", take).Add("status", status);
        }

        [Test]
        public void StartAndStopValuesAreRead()
        {
            TakeState start = TakeState.FromStateValue(Value(Started("scene-9")));
            Assert.IsTrue(start.Recording);
            Assert.AreEqual("scene-9", start.Take);
            Assert.AreEqual("10:00:00:00", start.Timecode);
            Assert.IsNull(start.Status);
            Assert.AreEqual("recording take 'scene-9' since 10:00:00:00", start.ToString());

            TakeState stop = TakeState.FromStateValue(Value(Stopped("scene-9", "stopping")));
            Assert.IsFalse(stop.Recording);
            Assert.AreEqual("scene-9", stop.Take);
            Assert.IsNull(stop.Timecode);
            Assert.AreEqual("stopping", stop.Status);
            Assert.AreEqual("take 'scene-9' stopping", stop.ToString());
        }

        [Test]
        public void NilOptionalFieldsAndUnknownKeysAreAccepted()
        {
            var map = new MsgPackMap().Add("recording", true).Add("take", "t").Add("timecode", MsgPackValue.Nil)
                .Add("status", MsgPackValue.Nil).Add("added_later", 7L);
            TakeState state = TakeState.FromStateValue(Value(map));
            Assert.IsTrue(state.Recording);
            Assert.IsNull(state.Timecode);
            Assert.IsNull(state.Status);
            Assert.AreEqual(new TakeState(true, "t", null, null), state);
        }

        private static IEnumerable<TestCaseData> MalformedValues()
        {
            yield return new TestCaseData(MsgPackValue.From("recording"), "bridge.take must be a map, got a string");
            yield return new TestCaseData(MsgPackValue.Nil, "bridge.take must be a map, got nil");
            yield return new TestCaseData(Value(new MsgPackMap().Add("take", "t")), "bridge.take.recording is missing");
            yield return new TestCaseData(Value(new MsgPackMap().Add("recording", "yes").Add("take", "t")), "bridge.take.recording must be a bool, got a string");
            yield return new TestCaseData(Value(new MsgPackMap().Add("recording", 1L).Add("take", "t")), "bridge.take.recording must be a bool, got an integer");
            yield return new TestCaseData(Value(new MsgPackMap().Add("recording", true)), "bridge.take.take is missing");
            yield return new TestCaseData(Value(new MsgPackMap().Add("recording", true).Add("take", 7L)), "bridge.take.take must be a string, got an integer");
            yield return new TestCaseData(Value(new MsgPackMap().Add("recording", true).Add("take", MsgPackValue.Nil)), "bridge.take.take must be a string, got nil");
            yield return new TestCaseData(Value(new MsgPackMap().Add("recording", true).Add("take", "")), "bridge.take.take is empty");
            yield return new TestCaseData(Value(new MsgPackMap().Add("recording", true).Add("take", "t").Add("timecode", 5L)),
                                          "bridge.take.timecode must be a string or nil, got an integer");
            yield return new TestCaseData(Value(new MsgPackMap().Add("recording", false).Add("take", "t").Add("status", MsgPackValue.From(new List<MsgPackValue>()))),
                                          "bridge.take.status must be a string or nil, got an array");
        }

        [Test, TestCaseSource("MalformedValues")]
        public void MalformedValuesAreRefusedNamingTheField(MsgPackValue value, string message)
        {
            var e = Assert.Throws<FormatException>(() => TakeState.FromStateValue(value));
            Assert.AreEqual(message, e.Message);
            // the same value arriving in a STATE from the server, or in a snapshot, is refused the same way
            e = Assert.Throws<FormatException>(() => { TakeState ignored; TakeState.TryRead(ServerChange(TakeState.StateKey, value), out ignored); });
            Assert.AreEqual(message, e.Message);
            e = Assert.Throws<FormatException>(() => TakeState.FromSnapshot(new MsgPackMap().Add(TakeState.StateKey, value)));
            Assert.AreEqual(message, e.Message);
        }

        [Test]
        public void SnapshotWithoutTheKeyMeansNoTakeYet()
        {
            TakeState state;
            Assert.IsTrue(TakeState.TryRead(Snapshot(new MsgPackMap().Add("cue", "lights")), out state));
            Assert.AreSame(TakeState.NoTake, state);
            Assert.IsFalse(state.Recording);
            Assert.IsNull(state.Take);
            Assert.AreEqual("no take recorded yet", state.ToString());
        }

        [Test]
        public void SnapshotOfAJoinerAfterTheStartHoldsTheTake()
        {
            TakeState state;
            Assert.IsTrue(TakeState.TryRead(Snapshot(new MsgPackMap().Add("cue", "x").Add(TakeState.StateKey, Started("scene-9"))), out state));
            Assert.AreEqual(new TakeState(true, "scene-9", "10:00:00:00", null), state);
        }

        [Test]
        public void OnlyTheServersChangesOfTheKeyAreRead()
        {
            TakeState state;
            Assert.IsTrue(TakeState.TryRead(ServerChange(TakeState.StateKey, Value(Stopped("scene-9", "complete"))), out state));
            Assert.AreEqual(new TakeState(false, "scene-9", null, "complete"), state);
            // an engine setting the key is not the server's word (engines SHOULD NOT set bridge.* keys)
            Assert.IsFalse(TakeState.TryRead(ServerChange(TakeState.StateKey, Value(Started("fake")), "engine-4"), out state));
            Assert.IsNull(state);
            Assert.IsFalse(TakeState.TryRead(ServerChange("cue", Value(Started("x"))), out state));
            Assert.IsTrue(TakeState.TryRead(ServerChange(TakeState.StateKey, MsgPackValue.Nil, TakeState.ServerAuthor, StateChange.OpDelete), out state));
            Assert.AreSame(TakeState.NoTake, state);
            var join = new SessionEvent { Session = "forum", Event = SessionEvent.Join, EngineId = "engine-2", Engine = "Unreal" };
            Assert.IsFalse(TakeState.TryRead(join, out state));
            Assert.IsFalse(TakeState.TryRead(new Heartbeat { TNs = 5 }, out state));
        }

        [Test]
        public void EqualityComparesEveryField()
        {
            var a = new TakeState(true, "t", "10:00:00:00", null);
            Assert.AreEqual(a, new TakeState(true, "t", "10:00:00:00", null));
            Assert.AreEqual(a.GetHashCode(), new TakeState(true, "t", "10:00:00:00", null).GetHashCode());
            Assert.AreNotEqual(a, new TakeState(false, "t", "10:00:00:00", null));
            Assert.AreNotEqual(a, new TakeState(true, "u", "10:00:00:00", null));
            Assert.AreNotEqual(a, new TakeState(true, "t", "10:00:00:01", null));
            Assert.AreNotEqual(a, new TakeState(true, "t", "10:00:00:00", "complete"));
            Assert.IsFalse(a.Equals(null));
        }

        private static TakeAck Ack(bool record, string take, string path, string timecode = null, string status = null)
        {
            return new TakeAck { RequestId = 1, Ok = true, Record = record, Take = take, Path = path, Timecode = timecode, Status = status };
        }

        [Test]
        public void IndicatorReportsAnOwnTakeOnceFromItsAckAndTheServersState()
        {
            var indicator = new TakeIndicator();
            var events = new List<string>();
            indicator.Started += t => events.Add("started " + t);
            indicator.Stopped += t => events.Add("stopped " + t);

            indicator.Apply(TakeState.NoTake);
            Assert.IsFalse(indicator.IsRecording);
            indicator.Apply(Ack(true, "scene-4", "/takes/scene-4", "01:00:00:00"));
            indicator.Apply(new TakeState(true, "scene-4", "01:00:00:00", null));
            Assert.IsTrue(indicator.IsRecording);
            Assert.AreEqual("/takes/scene-4", indicator.Path);
            Assert.AreEqual("01:00:00:00", indicator.Timecode);
            Assert.AreEqual("RECORDING 'scene-4' since 01:00:00:00", indicator.ToString());
            indicator.Apply(new TakeState(false, "scene-4", null, "stopping"));
            indicator.Apply(Ack(false, "scene-4", "/takes/scene-4", null, "stopping"));
            Assert.IsFalse(indicator.IsRecording);
            Assert.AreEqual(new[] { "started scene-4", "stopped scene-4" }, events.ToArray());
            Assert.AreEqual("not recording (last take 'scene-4')", indicator.ToString());
        }

        [Test]
        public void IndicatorFollowsTakesStartedAndStoppedElsewhere()
        {
            var indicator = new TakeIndicator();
            var events = new List<string>();
            indicator.Started += t => events.Add("started " + t);
            indicator.Stopped += t => events.Add("stopped " + t);

            indicator.Apply(Ack(false, "old", "/takes/old", null, "complete"));
            Assert.AreEqual("/takes/old", indicator.Path);
            indicator.Apply(new TakeState(true, "by-cli", "02:00:00:00", null)); // started from the CLI
            Assert.IsTrue(indicator.IsRecording);
            Assert.AreEqual("by-cli", indicator.Take);
            Assert.IsNull(indicator.Path, "the folder known was the old take's");
            indicator.Apply(new TakeState(true, "by-osc", "03:00:00:00", null)); // a stop was missed
            Assert.AreEqual("03:00:00:00", indicator.Timecode);
            indicator.Apply(TakeState.NoTake); // a restarted server has recorded nothing
            Assert.IsFalse(indicator.IsRecording);
            Assert.AreEqual("by-osc", indicator.Take, "the last take shown stays shown");
            indicator.Apply(new TakeState(true, "again", null, null));
            // a refused stop (nothing records) reads as not recording
            indicator.Apply(new TakeAck { RequestId = 2, Ok = false, Record = false, Code = 11, Reason = "take: no take is recording" });
            Assert.IsFalse(indicator.IsRecording);
            // a lost request (no code) says nothing about the server
            indicator.Apply(new TakeState(true, "again", null, null));
            indicator.Apply(TakeAck.Failed(3, false, "connection lost"));
            Assert.IsTrue(indicator.IsRecording);
            Assert.AreEqual(new[] { "started by-cli", "stopped by-cli", "started by-osc", "stopped by-osc", "started again", "stopped again",
                                    "started again" }, events.ToArray());
        }
    }
}
