// Engine-side conversions: row flips between bottom-up textures and top-down wire planes,
// camera pose and intrinsics in the protocol's conventions, reversed-Z depth, pose spaces and
// the MOCAP pose payload, latency percentiles.
using System;
using System.Collections.Generic;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;
using NUnit.Framework;

namespace MachinimaBridge.Tests
{
    [TestFixture]
    public class ConventionTests
    {
        private const double Eps = 1e-9;

        private static void AssertVec(Vec3d expected, Vec3d actual, double eps = 1e-9)
        {
            Assert.AreEqual(expected.X, actual.X, eps, "x of " + actual);
            Assert.AreEqual(expected.Y, actual.Y, eps, "y of " + actual);
            Assert.AreEqual(expected.Z, actual.Z, eps, "z of " + actual);
        }

        [Test]
        public void PackForUploadHonoursStrideAndFlipsRows()
        {
            // 2x3 RGB8 with stride 8 (2 padding bytes per row): rows hold 1.., 11.., 21..
            var data = new byte[24];
            for (int row = 0; row < 3; row++)
            {
                for (int i = 0; i < 6; i++) data[row * 8 + i] = (byte)(row * 10 + i + 1);
                data[row * 8 + 6] = 0xEE;
                data[row * 8 + 7] = 0xEE;
            }
            var plane = new Plane(new PlaneDescriptor("color", "RGB8", 2, 3, 8), data);
            var packed = new byte[18];
            Assert.AreEqual(18, PlaneRows.PackForUpload(plane, packed, true));
            CollectionAssert.AreEqual(new byte[] { 21, 22, 23, 24, 25, 26, 11, 12, 13, 14, 15, 16, 1, 2, 3, 4, 5, 6 }, packed);
            PlaneRows.PackForUpload(plane, packed, false);
            CollectionAssert.AreEqual(new byte[] { 1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16, 21, 22, 23, 24, 25, 26 }, packed);
            Assert.Throws<ArgumentException>(() => PlaneRows.PackForUpload(plane, new byte[17], true));
        }

        [Test]
        public void ReadbackRowsBecomeATopDownPlane()
        {
            // bottom-up readback of a 1x2 U8 mask: first byte is the bottom row
            Plane p = PlaneRows.FromReadback("mask", "U8", 1, 2, new byte[] { 0, 255 }, true);
            CollectionAssert.AreEqual(new byte[] { 255, 0 }, p.Data);
            Assert.AreEqual(1, p.Descriptor.Stride);
        }

        [Test]
        public void AnUnrotatedUnityCameraLooksAlongBridgePlusY()
        {
            // Unity camera at (1, 2, 3) looking down Unity +z (forward), y up.
            double[] m = CameraConventions.WorldFromCamera(new Vec3d(1, 2, 3), Quatd.Identity);
            // camera origin -> bridge world (x, z, y) of the Unity position
            AssertVec(new Vec3d(1, 3, 2), CameraConventions.Transform(m, new Vec3d(0, 0, 0)));
            // OpenCV +z (forward) -> Unity +z -> bridge +y
            AssertVec(new Vec3d(1, 4, 2), CameraConventions.Transform(m, new Vec3d(0, 0, 1)));
            // OpenCV +y (down) -> Unity -y -> bridge -z
            AssertVec(new Vec3d(1, 3, 1), CameraConventions.Transform(m, new Vec3d(0, 1, 0)));
            // OpenCV +x (right) -> Unity +x -> bridge +x
            AssertVec(new Vec3d(2, 3, 2), CameraConventions.Transform(m, new Vec3d(1, 0, 0)));
            Assert.AreEqual(1.0, m[15]);
        }

        [Test]
        public void AYawedCameraStaysAProperRotation()
        {
            // Unity yaw of +90 degrees about +y turns forward (+z) to +x (Unity is left-handed).
            Quatd yaw = Quatd.AxisAngleDeg(new Vec3d(0, 1, 0), 90);
            AssertVec(new Vec3d(1, 0, 0), yaw.Rotate(new Vec3d(0, 0, 1)), 1e-12);
            double[] m = CameraConventions.WorldFromCamera(new Vec3d(0, 0, 0), yaw);
            AssertVec(new Vec3d(1, 0, 0), CameraConventions.Transform(m, new Vec3d(0, 0, 1)), 1e-12);
            AssertVec(new Vec3d(0, 0, -1), CameraConventions.Transform(m, new Vec3d(0, 1, 0)), 1e-12);
            double det = m[0] * (m[5] * m[10] - m[6] * m[9]) - m[1] * (m[4] * m[10] - m[6] * m[8]) + m[2] * (m[4] * m[9] - m[5] * m[8]);
            Assert.AreEqual(1.0, det, 1e-12, "world_from_camera must be a rotation (det +1)");
        }

        [Test]
        public void IntrinsicsFollowTheVerticalFieldOfView()
        {
            double[] k = CameraConventions.IntrinsicsFromVerticalFov(90, 640, 480);
            Assert.AreEqual(240.0, k[0], 1e-9);
            Assert.AreEqual(240.0, k[1], 1e-9);
            Assert.AreEqual(319.5, k[2], Eps);
            Assert.AreEqual(239.5, k[3], Eps);
            // a point on the top edge of the view projects to v = -0.5 (the top edge of pixel row 0)
            double v = k[1] * (-1.0) / 1.0 + k[3];
            Assert.AreEqual(-0.5, v, 1e-9);
            Assert.Throws<ArgumentOutOfRangeException>(() => CameraConventions.IntrinsicsFromVerticalFov(0, 1, 1));
        }

        [Test]
        public void ReversedZDepthLinearises()
        {
            Assert.AreEqual(0.1, CameraConventions.EyeDepthFromReversedZ(1.0, 0.1, 100), 1e-12);
            Assert.AreEqual(100.0, CameraConventions.EyeDepthFromReversedZ(1e-300, 0.1, 100), 1e-6);
            Assert.IsTrue(double.IsPositiveInfinity(CameraConventions.EyeDepthFromReversedZ(0.0, 0.1, 100)), "sky");
            // device depth of an eye depth z: near * (far - z) / (z * (far - near))
            double z = 7.5, near = 0.3, far = 1000;
            double device = near * (far - z) / (z * (far - near));
            Assert.AreEqual(z, CameraConventions.EyeDepthFromReversedZ(device, near, far), 1e-9);
        }

        private static HumanoidPose SamplePose()
        {
            var pose = new HumanoidPose
            {
                Performer = "actor-1", TNs = 1700000005000000000L, Source = "unity",
                RootPositionM = new Vec3d(0.5, 0, -1), RootRotation = Quatd.AxisAngleDeg(new Vec3d(0, 1, 0), 30),
            };
            pose.Bones.Add(new BoneRotation("Hips", Quatd.Identity));
            pose.Bones.Add(new BoneRotation("Head", Quatd.AxisAngleDeg(new Vec3d(0, 1, 0), 30)));
            pose.Positions.Add(new BonePosition("Hips", new Vec3d(0, 0.95, 0)));
            pose.Blendshapes.Add(new KeyValuePair<string, double>("jawOpen", 0.25));
            return pose;
        }

        [Test]
        public void MocapPoseRoundTripsThroughTheWireLayout()
        {
            HumanoidPose pose = SamplePose();
            pose.Confidence = new List<double> { 1.0, 0.5 };
            Mocap message = MocapPoseCodec.Encode(pose);
            Assert.AreEqual(1, message.Parts.Count);
            Assert.AreEqual(4 * (4 * 2 + 3 * 1 + 1 + 2), message.Parts[0].Length);
            CollectionAssert.AreEqual(new[] { "performer", "t_ns", "source", "root", "bones", "positions", "blendshapes", "confidence" },
                                      KeysOf(message.ToHeader()).GetRange(2, 8));
            var wire = (Mocap)MessageCodec.Parse(MessageCodec.Serialize(message));
            HumanoidPose back = MocapPoseCodec.Decode(wire);
            Assert.AreEqual("actor-1", back.Performer);
            Assert.AreEqual(1700000005000000000L, back.TNs);
            Assert.AreEqual("unity", back.Source);
            Assert.AreEqual("Head", back.Bones[1].Bone);
            Assert.Less(Quatd.AngleDeg(pose.Bones[1].LocalRotation, back.Bones[1].LocalRotation), 1e-4);
            Assert.AreEqual(0.95, back.Positions[0].LocalPositionM.Y, 1e-6);
            Assert.AreEqual(0.25, back.Blendshapes[0].Value, 1e-7);
            Assert.AreEqual(0.5, back.Confidence[1], 1e-7);
            Assert.AreEqual(30.0, Quatd.AngleDeg(Quatd.Identity, back.RootRotation), 1e-9);
        }

        private static List<string> KeysOf(MsgPackMap map)
        {
            var keys = new List<string>();
            foreach (KeyValuePair<string, MsgPackValue> e in map) keys.Add(e.Key);
            return keys;
        }

        private static Mocap WithField(Mocap source, string key, MsgPackValue value, byte[] part = null)
        {
            var copy = new Mocap();
            foreach (KeyValuePair<string, MsgPackValue> e in source.Fields) copy.Fields.Add(e.Key, e.Key == key ? value : e.Value);
            copy.Parts.Add(part ?? source.Parts[0]);
            return copy;
        }

        [Test]
        public void BadMocapPosesAreRefusedWithTheServersCodes()
        {
            Mocap good = MocapPoseCodec.Encode(SamplePose());
            Func<Mocap, ProtocolException> fail = m => Assert.Throws<ProtocolException>(() => MocapPoseCodec.Decode(m));
            ProtocolException e = fail(WithField(good, "bones", MsgPackValue.FromStrings(new[] { "Hips", "Tail" })));
            Assert.AreEqual(ErrorCode.BAD_FIELD, e.Code);
            StringAssert.Contains("unknown bone 'Tail'", e.Detail);
            e = fail(WithField(good, "bones", MsgPackValue.FromStrings(new[] { "Hips", "Hips" })));
            StringAssert.Contains("repeats 'Hips'", e.Detail);
            e = fail(WithField(good, "bones", good.Fields["bones"], new byte[8]));
            Assert.AreEqual(ErrorCode.PLANE_MISMATCH, e.Code);
            StringAssert.Contains("MOCAP pose part is 8 bytes", e.Detail);
            e = fail(WithField(good, "root", MsgPackValue.FromDoubles(new double[] { 0, 0, 0, 0, 0, 0, 0 })));
            StringAssert.Contains("root rotation has zero length", e.Detail);
            e = fail(WithField(good, "performer", MsgPackValue.From("")));
            Assert.AreEqual(ErrorCode.BAD_FIELD, e.Code);
            var zero = (byte[])good.Parts[0].Clone();
            Array.Clear(zero, 16, 16); // the Head rotation
            StringAssert.Contains("rotation of 'Head' has zero length", fail(WithField(good, "bones", good.Fields["bones"], zero)).Detail);
            var twoParts = WithField(good, "bones", good.Fields["bones"]);
            twoParts.Parts.Add(new byte[0]);
            Assert.AreEqual(ErrorCode.PLANE_MISMATCH, fail(twoParts).Code);
        }

        [Test]
        public void RootRelativeRotationsComposeDownTheHierarchy()
        {
            // Turning the spine 90 degrees about +y (Unity) swings the left arm, which points along -x in the
            // T-pose, to point forward (+z); the hips and legs stay put.
            var pose = new HumanoidPose();
            pose.Bones.Add(new BoneRotation("Spine", Quatd.AxisAngleDeg(new Vec3d(0, 1, 0), 90)));
            Quatd[] c = pose.RootRelativeRotations();
            AssertVec(new Vec3d(0, 0, 1), c[HumanoidBones.IndexOf("LeftUpperArm")].Rotate(new Vec3d(-1, 0, 0)), 1e-12);
            AssertVec(new Vec3d(0, 0, 1), c[HumanoidBones.IndexOf("LeftHand")].Rotate(new Vec3d(-1, 0, 0)), 1e-12);
            Assert.AreEqual(0.0, Quatd.AngleDeg(Quatd.Identity, c[HumanoidBones.IndexOf("LeftFoot")]), 1e-9);
            Assert.AreEqual(HumanoidBones.IndexOf("Chest"), HumanoidBones.Parents[HumanoidBones.IndexOf("UpperChest")]);
            Assert.AreEqual(HumanoidBones.IndexOf("UpperChest"), HumanoidBones.Parents[HumanoidBones.IndexOf("Neck")]);
            var seen = new HashSet<int>();
            foreach (int b in HumanoidBones.ParentFirstOrder)
            {
                Assert.IsTrue(HumanoidBones.Parents[b] < 0 || seen.Contains(HumanoidBones.Parents[b]));
                seen.Add(b);
            }
        }

        [Test]
        public void RetargetingToAnAvatarAndBackIsTheIdentity()
        {
            var random = new Random(7);
            Func<Quatd> any = () => Quatd.AxisAngleDeg(new Vec3d(random.NextDouble() - 0.5, random.NextDouble() - 0.5, random.NextDouble() - 0.5), random.NextDouble() * 170);
            var tPose = new Quatd?[HumanoidBones.Count];
            for (int b = 0; b < HumanoidBones.Count; b++) tPose[b] = any();
            tPose[HumanoidBones.IndexOf("UpperChest")] = null; // optional in Unity humanoids
            var pose = new HumanoidPose();
            foreach (string name in HumanoidBones.Names) pose.Bones.Add(new BoneRotation(name, any()));

            Quatd?[] avatar = HumanoidRetarget.AvatarRotations(pose, tPose);
            Assert.IsFalse(avatar[HumanoidBones.IndexOf("UpperChest")].HasValue);
            // the avatar bone's T-pose direction follows the canonical bone: A * inverse(T) == C
            Quatd[] c = pose.RootRelativeRotations();
            int arm = HumanoidBones.IndexOf("LeftUpperArm");
            Assert.Less(Quatd.AngleDeg(c[arm], avatar[arm].Value * tPose[arm].Value.Inverse()), 1e-9);

            var back = new HumanoidPose { Bones = HumanoidRetarget.CanonicalFromAvatar(avatar, tPose) };
            Assert.AreEqual(HumanoidBones.Count - 1, back.Bones.Count);
            Quatd?[] again = HumanoidRetarget.AvatarRotations(back, tPose);
            for (int b = 0; b < HumanoidBones.Count; b++)
            {
                if (!avatar[b].HasValue) continue;
                Assert.Less(Quatd.AngleDeg(avatar[b].Value, again[b].Value), 1e-7, HumanoidBones.Names[b]);
            }
        }

        [Test]
        public void SmpteTimecodeCountsFramesAndWrapsAtADay()
        {
            Assert.AreEqual("00:00:00:00", SmpteTimecode.FromSeconds(0, 30));
            Assert.AreEqual("00:00:01:05", SmpteTimecode.FromSeconds(1 + 5 / 30.0, 30));
            Assert.AreEqual("00:00:00:23", SmpteTimecode.FromSeconds(0.999, 24));
            Assert.AreEqual("01:00:00:00", SmpteTimecode.FromSeconds(3600, 24));
            Assert.AreEqual("00:00:00:00", SmpteTimecode.FromSeconds(86400, 25));
            Assert.Throws<ArgumentOutOfRangeException>(() => SmpteTimecode.FromSeconds(-1, 30));
            Assert.Throws<ArgumentOutOfRangeException>(() => SmpteTimecode.FromSeconds(1, 0));
        }

        [Test]
        public void HumanoidBoneNamesFollowUnitysEnumOrder()
        {
            Assert.AreEqual(55, HumanoidBones.Names.Length);
            Assert.AreEqual(0, HumanoidBones.IndexOf("Hips"));
            Assert.AreEqual(23, HumanoidBones.IndexOf("Jaw"));
            Assert.AreEqual(54, HumanoidBones.IndexOf("UpperChest"));
            Assert.AreEqual(-1, HumanoidBones.IndexOf("Tail"));
        }

        [Test]
        public void LatencyWindowPercentilesAndRate()
        {
            var w = new LatencyWindow(4);
            Assert.IsTrue(double.IsNaN(w.Percentile(50)));
            foreach (double v in new[] { 100.0, 1, 2, 3, 4 }) w.Add(v); // 100 falls out of the window
            Assert.AreEqual(2.5, w.Percentile(50), 1e-12);
            Assert.AreEqual(4.0, w.Percentile(100), 1e-12);
            var rate = new RateMeter();
            for (int i = 0; i < 30; i++) rate.Mark(i * 33000000L);
            Assert.AreEqual(30.0, rate.PerSecond(29 * 33000000L), 1e-9);
            Assert.AreEqual(0.0, rate.PerSecond(10000000000L));
        }

        [Test]
        public void ControlParamsConvertCSharpValues()
        {
            MsgPackMap m = ControlParams.From(new[]
            {
                new KeyValuePair<string, object>("strength", 0.5f),
                new KeyValuePair<string, object>("style", 12),
                new KeyValuePair<string, object>("enabled", true),
                new KeyValuePair<string, object>("codec", "jpeg"),
                new KeyValuePair<string, object>("weights", new[] { 0.5f, 0.25f }),
            });
            Assert.IsTrue(m["strength"].IsFloat);
            Assert.IsTrue(m["style"].IsInteger);
            Assert.AreEqual(2, m["weights"].AsArray.Count);
            Assert.IsTrue(Control.IsAllowedParamValue(m["weights"]));
            StringAssert.Contains("'tint' has a value of type DateTime", Assert.Throws<ArgumentException>(() => ControlParams.Single("tint", DateTime.Now)).Message);
        }
    }
}
