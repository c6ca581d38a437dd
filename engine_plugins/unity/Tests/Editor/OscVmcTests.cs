// OSC 1.0 bytes written out by hand from the specification, and the VMC packet layout
// (bundles under the packet budget, messages in order, Blend/Apply after the values).
using System;
using System.Collections.Generic;
using System.Text;
using MachinimaBridge.Core;
using NUnit.Framework;

namespace MachinimaBridge.Tests
{
    [TestFixture]
    public class OscVmcTests
    {
        private static string Hex(byte[] b)
        {
            return BitConverter.ToString(b).Replace("-", " ").ToLowerInvariant();
        }

        [Test]
        public void MessagesArePaddedBigEndianOsc()
        {
            // "/VMC/Ext/OK" (11 bytes + 1 NUL), ",i" + 2 NUL, int32 1
            Assert.AreEqual("2f 56 4d 43 2f 45 78 74 2f 4f 4b 00 2c 69 00 00 00 00 00 01",
                            Hex(OscPacketWriter.EncodeMessage(new OscMessage("/VMC/Ext/OK", 1))));
            // "/VMC/Ext/T" (10 bytes + 2 NUL), ",f" + 2 NUL, float32 1.5
            Assert.AreEqual("2f 56 4d 43 2f 45 78 74 2f 54 00 00 2c 66 00 00 3f c0 00 00",
                            Hex(OscPacketWriter.EncodeMessage(new OscMessage("/VMC/Ext/T", 1.5f))));
            // a string of 4 bytes still gets a 4-byte NUL terminator block; doubles go out as 'f'
            byte[] s = OscPacketWriter.EncodeMessage(new OscMessage("/a", "Head", 2.0));
            Assert.AreEqual("2f 61 00 00 2c 73 66 00 48 65 61 64 00 00 00 00 40 00 00 00", Hex(s));
            Assert.Throws<ArgumentException>(() => new OscMessage("no-slash"));
            Assert.Throws<ArgumentException>(() => new OscMessage("/x", 1L));
        }

        [Test]
        public void BundlesCarryTheImmediateTimeTagAndSizePrefixes()
        {
            byte[] m = OscPacketWriter.EncodeMessage(new OscMessage("/VMC/Ext/OK", 1));
            byte[] bundle = OscPacketWriter.EncodeBundle(new List<byte[]> { m });
            Assert.AreEqual("#bundle\0", Encoding.ASCII.GetString(bundle, 0, 8));
            Assert.AreEqual("00 00 00 00 00 00 00 01 00 00 00 14", Hex(new ArraySegment<byte>(bundle, 8, 12).ToArrayCopy()));
            Assert.AreEqual(16 + 4 + m.Length, bundle.Length);
        }

        [Test]
        public void AFullBodyPoseSplitsIntoBundlesUnderTheBudgetInOrder()
        {
            var frame = new VmcFrame { TimeS = 12.5, RootPositionM = new Vec3d(0, 0, 1) };
            foreach (string name in HumanoidBones.Names)
            {
                frame.Bones.Add(new VmcBone(name, new Vec3d(0, 0.1, 0), Quatd.Identity));
            }
            frame.Blendshapes.Add(new KeyValuePair<string, double>("A", 0.5));
            List<OscMessage> messages = VmcPoseEncoder.Messages(frame);
            Assert.AreEqual(3 + 55 + 2, messages.Count);
            Assert.AreEqual("/VMC/Ext/Blend/Apply", messages[messages.Count - 1].Address);
            List<byte[]> packets = VmcPoseEncoder.Packets(frame, 1400);
            Assert.Greater(packets.Count, 1);
            int total = 0;
            foreach (byte[] p in packets)
            {
                Assert.LessOrEqual(p.Length, 1400);
                Assert.AreEqual("#bundle\0", Encoding.ASCII.GetString(p, 0, 8));
                total += p.Length;
            }
            Assert.Throws<ArgumentException>(() => VmcPoseEncoder.Messages(new VmcFrame { Bones = { new VmcBone("Tail", new Vec3d(), Quatd.Identity) } }));
        }
    }

    internal static class SegmentExtensions
    {
        public static byte[] ToArrayCopy(this ArraySegment<byte> segment)
        {
            var copy = new byte[segment.Count];
            Buffer.BlockCopy(segment.Array, segment.Offset, copy, 0, segment.Count);
            return copy;
        }
    }
}
