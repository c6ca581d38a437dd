// The take API's pure parts (Runtime/Core/TakeControl.cs): the take name rule the server applies
// (bridge/takes/layout.py), the CONTROL it sends, and reading the CONTROL_ACK into a TakeAck. The
// live behaviour against the server is tested by tests/integration/test_unity_csharp_protocol.py.
using System;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;
using NUnit.Framework;

namespace MachinimaBridge.Tests
{
    [TestFixture]
    public class TakeControlTests
    {
        [TestCase("scene-4")]
        [TestCase("a")]
        [TestCase("7")]
        [TestCase("Take_01.v2")]
        [TestCase("x..")]
        [TestCase("z-")]
        public void GoodNamesPass(string name)
        {
            Assert.IsTrue(TakeControl.IsValidName(name));
            Assert.IsNull(TakeControl.NameProblem(name));
            Assert.DoesNotThrow(() => TakeControl.CheckName(name));
        }

        [Test]
        public void NameLengthLimitIs128Characters()
        {
            Assert.IsTrue(TakeControl.IsValidName(new string('a', 128)));
            string problem = TakeControl.NameProblem(new string('a', 129));
            StringAssert.Contains("129 characters long", problem);
        }

        [TestCase("", "empty")]
        [TestCase(".hidden", "starts with '.'")]
        [TestCase("-x", "starts with '-'")]
        [TestCase("_x", "starts with '_'")]
        [TestCase("scene 4", "' ' at position 5")]
        [TestCase("a/b", "'/' at position 1")]
        [TestCase("a\\b", "'\\' at position 1")]
        [TestCase("a\n", "U+000A at position 1")]
        [TestCase("café", "U+00E9 at position 3")]
        [TestCase("\u0661", "starts with U+0661")] // an Arabic-Indic digit: a digit, but not ASCII
        public void BadNamesAreRefusedSayingWhy(string name, string why)
        {
            Assert.IsFalse(TakeControl.IsValidName(name));
            var e = Assert.Throws<ArgumentException>(() => TakeControl.CheckName(name));
            StringAssert.Contains(why, e.Message);
            StringAssert.Contains("letters, digits, '.', '_' or '-'", e.Message);
            Assert.Throws<ArgumentException>(() => TakeControl.StartParams(name));
        }

        [Test]
        public void NullNameIsNotANameButStartParamsLetTheServerChoose()
        {
            Assert.IsFalse(TakeControl.IsValidName(null));
            MsgPackMap start = TakeControl.StartParams(null);
            Assert.AreEqual(1, start.Count);
            Assert.IsTrue(start["record"].AsBool);
        }

        [Test]
        public void StartAndStopAreCanonicalControlsOfTheTakeStage()
        {
            var start = new Control { RequestId = 3, Stream = 0, Stage = TakeControl.Stage, Params = TakeControl.StartParams("scene-4") };
            var again = (Control)MessageCodec.Parse(MessageCodec.Serialize(start));
            Assert.AreEqual("take", again.Stage);
            Assert.AreEqual(2, again.Params.Count);
            Assert.AreEqual("record", again.Params.EntryAt(0).Key);
            Assert.AreEqual(MsgPackType.Bool, again.Params["record"].Type);
            Assert.IsTrue(again.Params["record"].AsBool);
            Assert.AreEqual("name", again.Params.EntryAt(1).Key);
            Assert.AreEqual("scene-4", again.Params["name"].AsString);
            var stop = new Control { RequestId = 4, Stream = 0, Stage = TakeControl.Stage, Params = TakeControl.StopParams() };
            Control stopAgain = (Control)MessageCodec.Parse(MessageCodec.Serialize(stop));
            Assert.AreEqual(1, stopAgain.Params.Count);
            Assert.AreEqual(MsgPackType.Bool, stopAgain.Params["record"].Type);
            Assert.IsFalse(stopAgain.Params["record"].AsBool);
        }

        private static ControlAck Ack(MsgPackMap applied)
        {
            return (ControlAck)MessageCodec.Parse(MessageCodec.Serialize(new ControlAck { RequestId = 9, Ok = true, Applied = applied }));
        }

        [Test]
        public void StartAckIsRead()
        {
            TakeAck ack = TakeAck.FromControlAck(Ack(new MsgPackMap().Add("record", true).Add("take", "scene-4")
                .Add("path", "/srv/takes/scene-4").Add("timecode", "10:00:00:00")), true);
            Assert.IsTrue(ack.Ok && ack.Record);
            Assert.AreEqual(9L, ack.RequestId);
            Assert.AreEqual("scene-4", ack.Take);
            Assert.AreEqual("/srv/takes/scene-4", ack.Path);
            Assert.AreEqual("10:00:00:00", ack.Timecode);
            Assert.IsNull(ack.Status);
            Assert.IsNull(ack.DurationS);
            StringAssert.Contains("scene-4", ack.ToString());
        }

        [Test]
        public void StopAckIsReadWithAndWithoutDuration()
        {
            TakeAck stopping = TakeAck.FromControlAck(Ack(new MsgPackMap().Add("record", false).Add("take", "scene-4")
                .Add("path", "/srv/takes/scene-4").Add("status", "stopping")), false);
            Assert.IsTrue(stopping.Ok);
            Assert.IsFalse(stopping.Record);
            Assert.AreEqual("stopping", stopping.Status);
            Assert.IsNull(stopping.DurationS);
            TakeAck complete = TakeAck.FromControlAck(Ack(new MsgPackMap().Add("record", false).Add("take", "t")
                .Add("path", "/p").Add("status", "failed").Add("duration_s", 12L).Add("failure", "disk full")), false);
            Assert.AreEqual(12.0, complete.DurationS.Value);
            Assert.AreEqual("disk full", complete.Failure);
            StringAssert.Contains("disk full", complete.ToString());
        }

        [Test]
        public void RefusalKeepsCodeAndReasonAndTheDirectionAsked()
        {
            var refusal = new ControlAck { RequestId = 5, Ok = false, Code = (long)ErrorCode.BAD_PARAM_VALUE, Reason = "take: no take is recording" };
            TakeAck ack = TakeAck.FromControlAck(refusal, false);
            Assert.IsFalse(ack.Ok || ack.Record);
            Assert.AreEqual(11L, ack.Code);
            Assert.AreEqual("take: no take is recording", ack.Reason);
            StringAssert.Contains("BAD_PARAM_VALUE", ack.ToString());
        }

        [Test]
        public void UnreadableAcksNameTheField()
        {
            var e = Assert.Throws<FormatException>(() => TakeAck.FromControlAck(Ack(new MsgPackMap().Add("take", "x")), true));
            StringAssert.Contains("applied.record must be a bool, got nothing", e.Message);
            e = Assert.Throws<FormatException>(() => TakeAck.FromControlAck(Ack(new MsgPackMap().Add("record", true)), true));
            StringAssert.Contains("applied.take is missing", e.Message);
            e = Assert.Throws<FormatException>(() => TakeAck.FromControlAck(Ack(new MsgPackMap().Add("record", true).Add("take", 4L)), true));
            StringAssert.Contains("applied.take must be a string", e.Message);
            e = Assert.Throws<FormatException>(() => TakeAck.FromControlAck(Ack(new MsgPackMap().Add("record", false).Add("take", "x")), true));
            StringAssert.Contains("applied.record is false but the request started a take", e.Message);
            e = Assert.Throws<FormatException>(() => TakeAck.FromControlAck(Ack(new MsgPackMap().Add("record", false).Add("take", "x")
                .Add("duration_s", "long")), false));
            StringAssert.Contains("applied.duration_s must be a number", e.Message);
        }
    }
}
