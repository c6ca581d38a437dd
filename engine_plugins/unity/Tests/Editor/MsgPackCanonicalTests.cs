// The canonical encoding (docs/protocol.md, 3.2) at every size boundary, with the expected
// bytes written out from the msgpack specification, and the reader's acceptance and refusal
// rules (3.1, 8).
using System;
using System.Collections.Generic;
using System.Text;
using MachinimaBridge.Protocol;
using NUnit.Framework;

namespace MachinimaBridge.Tests
{
    [TestFixture]
    public class MsgPackCanonicalTests
    {
        private static string Hex(byte[] b)
        {
            return BitConverter.ToString(b).Replace("-", " ").ToLowerInvariant();
        }

        private static byte[] Bytes(string hex)
        {
            string[] items = hex.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
            var b = new byte[items.Length];
            for (int i = 0; i < items.Length; i++) b[i] = Convert.ToByte(items[i], 16);
            return b;
        }

        [TestCase(0L, "00")]
        [TestCase(127L, "7f")]
        [TestCase(128L, "cc 80")]
        [TestCase(255L, "cc ff")]
        [TestCase(256L, "cd 01 00")]
        [TestCase(65535L, "cd ff ff")]
        [TestCase(65536L, "ce 00 01 00 00")]
        [TestCase(4294967295L, "ce ff ff ff ff")]
        [TestCase(4294967296L, "cf 00 00 00 01 00 00 00 00")]
        [TestCase(-1L, "ff")]
        [TestCase(-32L, "e0")]
        [TestCase(-33L, "d0 df")]
        [TestCase(-128L, "d0 80")]
        [TestCase(-129L, "d1 ff 7f")]
        [TestCase(-32768L, "d1 80 00")]
        [TestCase(-32769L, "d2 ff ff 7f ff")]
        [TestCase(-2147483649L, "d3 ff ff ff ff 7f ff ff ff")]
        public void IntegersUseTheSmallestForm(long value, string expected)
        {
            Assert.AreEqual(expected, Hex(MsgPackWriter.Encode(MsgPackValue.From(value))));
            Assert.IsTrue(MsgPackValue.From(value).Equals(MsgPackReader.ReadSingleValue(Bytes(expected))));
        }

        [Test]
        public void Uint64AboveLongMaxRoundTrips()
        {
            MsgPackValue big = MsgPackValue.From(18446744073709551615UL);
            Assert.AreEqual("cf ff ff ff ff ff ff ff ff", Hex(MsgPackWriter.Encode(big)));
            MsgPackValue back = MsgPackReader.ReadSingleValue(Bytes("cf ff ff ff ff ff ff ff ff"));
            Assert.IsTrue(back.IsBigUnsigned);
            Assert.AreEqual(18446744073709551615UL, back.AsBigUnsigned);
        }

        [Test]
        public void FloatsAreAlwaysFloat64EvenWhenIntegral()
        {
            Assert.AreEqual("cb 40 3e 00 00 00 00 00 00", Hex(MsgPackWriter.Encode(MsgPackValue.From(30.0))));
            Assert.AreEqual("cb 00 00 00 00 00 00 00 00", Hex(MsgPackWriter.Encode(MsgPackValue.From(0.0))));
            // a float32 on the wire is accepted and read as a float
            MsgPackValue f32 = MsgPackReader.ReadSingleValue(Bytes("ca 3f c0 00 00"));
            Assert.IsTrue(f32.IsFloat);
            Assert.AreEqual(1.5, f32.AsDouble);
        }

        [Test]
        public void StringsArraysAndMapsUseTheSmallestForm()
        {
            Assert.AreEqual("a3 61 62 63", Hex(MsgPackWriter.Encode(MsgPackValue.From("abc"))));
            byte[] s31 = MsgPackWriter.Encode(MsgPackValue.From(new string('x', 31)));
            byte[] s32 = MsgPackWriter.Encode(MsgPackValue.From(new string('x', 32)));
            byte[] s256 = MsgPackWriter.Encode(MsgPackValue.From(new string('x', 256)));
            Assert.AreEqual(0xbf, s31[0]);
            Assert.AreEqual("d9 20", Hex(new[] { s32[0], s32[1] }));
            Assert.AreEqual("da 01 00", Hex(new[] { s256[0], s256[1], s256[2] }));
            // "é" is two bytes of UTF-8: the length prefix counts bytes.
            Assert.AreEqual("a2 c3 a9", Hex(MsgPackWriter.Encode(MsgPackValue.From("é"))));

            var fifteen = new List<MsgPackValue>();
            for (int i = 0; i < 15; i++) fifteen.Add(MsgPackValue.From((long)i));
            Assert.AreEqual(0x9f, MsgPackWriter.Encode(MsgPackValue.From(fifteen))[0]);
            fifteen.Add(MsgPackValue.From(15L));
            byte[] a16 = MsgPackWriter.Encode(MsgPackValue.From(fifteen));
            Assert.AreEqual("dc 00 10", Hex(new[] { a16[0], a16[1], a16[2] }));

            var map = new MsgPackMap();
            for (int i = 0; i < 16; i++) map.Add("k" + i, (long)i);
            byte[] m16 = MsgPackWriter.Encode(map);
            Assert.AreEqual("de 00 10", Hex(new[] { m16[0], m16[1], m16[2] }));
            Assert.AreEqual("c3", Hex(MsgPackWriter.Encode(MsgPackValue.True)));
            Assert.AreEqual("c2", Hex(MsgPackWriter.Encode(MsgPackValue.False)));
        }

        [Test]
        public void MapsKeepTheirKeyOrder()
        {
            var map = new MsgPackMap().Add("zeta", 1L).Add("alpha", 2L);
            MsgPackMap back = MsgPackReader.ReadSingleValue(MsgPackWriter.Encode(map)).AsMap;
            Assert.AreEqual("zeta", back.EntryAt(0).Key);
            Assert.AreEqual("alpha", back.EntryAt(1).Key);
            Assert.Throws<ArgumentException>(() => map.Add("zeta", 3L));
        }

        [Test]
        public void ANonCanonicalButValidHeaderIsAccepted()
        {
            // HEARTBEAT with "v" as uint32 and t_ns as uint64, keys in reverse order, "kind" as str8.
            byte[] header = Bytes("83 a4 74 5f 6e 73 cf 00 00 00 00 00 00 00 05 a4 6b 69 6e 64 d9 09 48 45 41 52 54 42 45 41 54 a1 76 ce 00 00 00 01");
            var hb = (Heartbeat)MessageCodec.Parse(new List<byte[]> { header });
            Assert.AreEqual(5L, hb.TNs);
            // Re-encoding writes the canonical form.
            Assert.AreEqual("83 a1 76 01 a4 6b 69 6e 64 a9 48 45 41 52 54 42 45 41 54 a4 74 5f 6e 73 05",
                            Hex(MessageCodec.EncodeHeader(hb)));
        }

        private static ErrorCode CodeOf(byte[] header)
        {
            try
            {
                MessageCodec.Parse(new List<byte[]> { header });
            }
            catch (ProtocolException e)
            {
                return e.Code;
            }
            Assert.Fail("parsing succeeded");
            return 0;
        }

        [Test]
        public void BrokenHeadersAreMalformed()
        {
            Assert.AreEqual(ErrorCode.MALFORMED_HEADER, CodeOf(new byte[0]));
            Assert.AreEqual(ErrorCode.MALFORMED_HEADER, CodeOf(Bytes("c1")), "0xc1 is never used");
            Assert.AreEqual(ErrorCode.MALFORMED_HEADER, CodeOf(Bytes("82 a1 76 01 a4 6b 69 6e")), "truncated");
            // invalid UTF-8 in a key
            Assert.AreEqual(ErrorCode.MALFORMED_HEADER, CodeOf(Bytes("82 a1 76 01 a4 6b 69 ff 64 a3 42 59 45")));
            // a repeated key inside a nested map
            Assert.AreEqual(ErrorCode.MALFORMED_HEADER,
                CodeOf(Bytes("83 a1 76 01 a4 6b 69 6e 64 a3 42 59 45 a1 78 82 a1 61 01 a1 61 02")));
            // an integer key inside a nested map
            Assert.AreEqual(ErrorCode.MALFORMED_HEADER,
                CodeOf(Bytes("83 a1 76 01 a4 6b 69 6e 64 a3 42 59 45 a1 78 81 01 02")));
            // an array claiming 4097 entries
            Assert.AreEqual(ErrorCode.MALFORMED_HEADER,
                CodeOf(Bytes("83 a1 76 01 a4 6b 69 6e 64 a3 42 59 45 a1 78 dc 10 01")));
            // a header above 65536 bytes
            var big = new MsgPackMap().Add("v", 1L).Add("kind", "BYE").Add("reason", new string('x', 70000));
            Assert.AreEqual(ErrorCode.MALFORMED_HEADER, CodeOf(MsgPackWriter.Encode(big)));
            // nesting beyond the reader's depth limit
            var deep = new StringBuilder("83 a1 76 01 a4 6b 69 6e 64 a3 42 59 45 a1 78");
            for (int i = 0; i < MsgPackReader.MaxNestingDepth + 2; i++) deep.Append(" 91");
            deep.Append(" 00");
            Assert.AreEqual(ErrorCode.MALFORMED_HEADER, CodeOf(Bytes(deep.ToString())));
        }

        [Test]
        public void VersionRules()
        {
            Assert.AreEqual(ErrorCode.BAD_VERSION, CodeOf(Bytes("82 a1 76 c3 a4 6b 69 6e 64 a3 42 59 45")), "bool v");
            Assert.AreEqual(ErrorCode.BAD_VERSION, CodeOf(Bytes("82 a1 76 cb 3f f0 00 00 00 00 00 00 a4 6b 69 6e 64 a3 42 59 45")), "float v");
            Assert.AreEqual(ErrorCode.MALFORMED_HEADER, CodeOf(Bytes("82 a1 76 01 a4 6b 69 6e 64 01")), "kind not a string");
            Assert.AreEqual(ErrorCode.UNKNOWN_KIND, CodeOf(Bytes("82 a1 76 01 a4 6b 69 6e 64 a3 46 4f 4f")));
        }
    }
}
