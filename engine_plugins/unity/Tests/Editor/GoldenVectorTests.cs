// The checks tests/vectors/README.md asks of every implementation: each valid vector parses to
// its kind, its header equals the JSON description (keys, order, types, values), its planes
// match their descriptors and SHA-256, and re-encoding gives the same bytes; each invalid
// vector fails with its error code.
using System;
using System.Collections.Generic;
using System.Security.Cryptography;
using MachinimaBridge.Protocol;
using NUnit.Framework;

namespace MachinimaBridge.Tests
{
    [TestFixture]
    public class GoldenVectorTests
    {
        public static IEnumerable<string> ValidNames()
        {
            return GoldenVectors.ValidNames();
        }

        public static IEnumerable<string> InvalidNames()
        {
            return GoldenVectors.InvalidNames();
        }

        private static void IgnoreWhenMissing(string name)
        {
            if (name != GoldenVectors.MissingMarker) return;
            string searched;
            GoldenVectors.FindFolder(out searched);
            Assert.Ignore("golden vectors not found (set " + GoldenVectors.EnvironmentVariable + "); looked in: " + searched);
        }

        private static string Hex(byte[] bytes)
        {
            return BitConverter.ToString(bytes).Replace("-", "").ToLowerInvariant();
        }

        [Test, TestCaseSource("ValidNames")]
        public void ValidVectorParsesMatchesItsDescriptionAndReencodesByteForByte(string name)
        {
            IgnoreWhenMissing(name);
            GoldenVector v = GoldenVectors.Load(name, false);
            MsgPackMap expectedHeader = v.Description["header"].AsMap;

            // The header as decoded by our reader: same keys, order, types and values as the JSON.
            MsgPackMap decoded = MessageCodec.DecodeHeader(v.Parts[0]);
            Assert.AreEqual(expectedHeader.ToString(), decoded.ToString(), name + ": decoded header differs");
            Assert.IsTrue(expectedHeader.Equals(decoded), name + ": decoded header differs in a type (integer vs float)");

            // The typed message.
            BridgeMessage message = MessageCodec.Parse(v.Parts);
            Assert.AreEqual(v.Description["kind"].AsString, message.Kind);

            // Planes: descriptor fields and SHA-256 of the bytes.
            List<MsgPackValue> planes = v.Description["planes"].AsArray;
            List<Plane> parsedPlanes = message is Frame ? ((Frame)message).Planes
                : message is Result ? ((Result)message).Planes : new List<Plane>();
            Assert.AreEqual(planes.Count, parsedPlanes.Count, name + ": plane count");
            using (SHA256 sha = SHA256.Create())
            {
                for (int i = 0; i < planes.Count; i++)
                {
                    MsgPackMap p = planes[i].AsMap;
                    PlaneDescriptor d = parsedPlanes[i].Descriptor;
                    Assert.AreEqual(p["kind"].AsString, d.Kind, name + " plane " + i);
                    Assert.AreEqual(p["format"].AsString, d.Format, name + " plane " + i);
                    Assert.AreEqual(p["width"].AsLong, d.Width, name + " plane " + i);
                    Assert.AreEqual(p["height"].AsLong, d.Height, name + " plane " + i);
                    Assert.AreEqual(p["stride"].AsLong, d.Stride, name + " plane " + i);
                    Assert.AreEqual(p["sha256"].AsString, Hex(sha.ComputeHash(parsedPlanes[i].Data)), name + " plane " + i + " bytes");
                }
            }

            // AUDIO: one binary part that is not a plane: its samples and SHA-256.
            var audio = message as Audio;
            if (audio != null)
            {
                Assert.IsTrue(v.Description.ContainsKey("samples_s16"), name + ": an AUDIO vector lists samples_s16");
                List<MsgPackValue> expected = v.Description["samples_s16"].AsArray;
                short[] samples = audio.ToInterleaved();
                Assert.AreEqual(expected.Count, samples.Length, name + ": sample count");
                Assert.AreEqual(audio.Samples * audio.Channels, samples.Length, name + ": samples x channels");
                for (int i = 0; i < samples.Length; i++) Assert.AreEqual(expected[i].AsLong, (long)samples[i], name + " sample " + i);
                using (SHA256 sha = SHA256.Create())
                {
                    Assert.AreEqual(v.Description["samples_sha256"].AsString, Hex(sha.ComputeHash(audio.Pcm)), name + ": samples SHA-256");
                }
            }

            // Re-encoding from the typed message reproduces every part byte for byte.
            List<byte[]> again = MessageCodec.Serialize(message);
            Assert.AreEqual(v.Parts.Count, again.Count, name + ": part count after re-encoding");
            for (int i = 0; i < again.Count; i++)
            {
                Assert.AreEqual(Hex(v.Parts[i]), Hex(again[i]), name + ": part " + i + " differs after re-encoding");
            }
        }

        [Test, TestCaseSource("InvalidNames")]
        public void InvalidVectorFailsWithItsErrorCode(string name)
        {
            IgnoreWhenMissing(name);
            GoldenVector v = GoldenVectors.Load(name, true);
            long expectedCode = v.Description["error_code"].AsLong;
            string expectedName = v.Description["error_name"].AsString;
            ProtocolException error = null;
            try
            {
                MessageCodec.Parse(v.Parts);
            }
            catch (ProtocolException e)
            {
                error = e;
            }
            Assert.IsNotNull(error, name + ": parsing succeeded but must fail with " + expectedName);
            Assert.AreEqual(expectedName, error.Code.ToString(), name + ": wrong error (" + error.Message + ")");
            Assert.AreEqual(expectedCode, (long)error.Code, name);
        }

        [Test]
        public void TheMocapVectorDecodesToItsPose()
        {
            string searched;
            if (GoldenVectors.FindFolder(out searched) == null) Assert.Ignore("golden vectors not found; looked in: " + searched);
            GoldenVector v = GoldenVectors.Load("mocap", false);
            var message = (Mocap)MessageCodec.Parse(v.Parts);
            MachinimaBridge.Core.HumanoidPose pose = MachinimaBridge.Core.MocapPoseCodec.Decode(message);
            MsgPackMap header = v.Description["header"].AsMap;
            Assert.AreEqual(header["performer"].AsString, pose.Performer);
            Assert.AreEqual(header["t_ns"].AsLong, pose.TNs);
            Assert.AreEqual(header["bones"].AsArray.Count, pose.Bones.Count);
            // the part's floats, in wire order: rotations, positions, blendshapes (confidences when present)
            var floats = new List<double>();
            foreach (MachinimaBridge.Core.BoneRotation b in pose.Bones)
            {
                floats.Add(b.LocalRotation.X); floats.Add(b.LocalRotation.Y); floats.Add(b.LocalRotation.Z); floats.Add(b.LocalRotation.W);
            }
            foreach (MachinimaBridge.Core.BonePosition p in pose.Positions)
            {
                floats.Add(p.LocalPositionM.X); floats.Add(p.LocalPositionM.Y); floats.Add(p.LocalPositionM.Z);
            }
            foreach (KeyValuePair<string, double> e in pose.Blendshapes) floats.Add(e.Value);
            if (pose.Confidence != null) floats.AddRange(pose.Confidence);
            List<MsgPackValue> expected = v.Description["pose_floats"].AsArray;
            Assert.AreEqual(expected.Count, floats.Count);
            for (int i = 0; i < floats.Count; i++) Assert.AreEqual(expected[i].AsDouble, floats[i], 1e-6, "pose float " + i);
            // encoding the decoded pose gives the vector's header again, byte for byte
            Mocap again = MachinimaBridge.Core.MocapPoseCodec.Encode(pose);
            Assert.AreEqual(Hex(v.Parts[0]), Hex(MessageCodec.EncodeHeader(again)));
        }

        [Test]
        public void TheVectorSetCoversEveryMessageKind()
        {
            string searched;
            if (GoldenVectors.FindFolder(out searched) == null) Assert.Ignore("golden vectors not found; looked in: " + searched);
            var kinds = new HashSet<string>();
            foreach (string name in GoldenVectors.ValidNames()) kinds.Add(GoldenVectors.Load(name, false).Description["kind"].AsString);
            foreach (string kind in MessageKinds.All) Assert.IsTrue(kinds.Contains(kind), "no valid vector of kind " + kind);
            Assert.GreaterOrEqual(GoldenVectors.ValidNames().Count, 15);
            Assert.GreaterOrEqual(GoldenVectors.InvalidNames().Count, 26);
        }
    }
}
