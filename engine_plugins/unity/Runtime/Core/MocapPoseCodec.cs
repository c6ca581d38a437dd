// MOCAP messages <-> HumanoidPose, byte-compatible with the server's relay (docs/protocol.md
// 6.11; the Python reference is mocap/pose_wire.py):
//
//   header: performer (str, 1..256 UTF-8 bytes), t_ns (int), source (str, default ""),
//           root ([x, y, z, qx, qy, qz, qw]), bones ([str]), positions ([str], default []),
//           blendshapes ([str], default [], at most 256), confidence (bool, default false)
//   part 1: little-endian float32, no padding: qx qy qz qw per bone; x y z per position;
//           one weight per blendshape; one confidence per bone when confidence is true.
//
// A bad header field is BAD_FIELD and a pose part of the wrong size PLANE_MISMATCH, as the
// server answers; quaternions are normalised on reading.
using System;
using System.Collections.Generic;
using System.Text;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Core
{
    public static class MocapPoseCodec
    {
        public const int MaxPerformerBytes = 256;
        public const int MaxBlendshapes = 256;

        public static Mocap Encode(HumanoidPose pose)
        {
            var boneNames = new List<string>(pose.Bones.Count);
            foreach (BoneRotation b in pose.Bones) boneNames.Add(b.Bone);
            var positionNames = new List<string>(pose.Positions.Count);
            foreach (BonePosition p in pose.Positions) positionNames.Add(p.Bone);
            var blendNames = new List<string>(pose.Blendshapes.Count);
            foreach (KeyValuePair<string, double> e in pose.Blendshapes) blendNames.Add(e.Key);
            bool withConfidence = pose.Confidence != null;
            if (withConfidence && pose.Confidence.Count != pose.Bones.Count)
            {
                throw new ArgumentException("pose has " + pose.Confidence.Count + " confidences for " + pose.Bones.Count + " bones");
            }
            CheckNames("bones", boneNames, true);
            CheckNames("positions", positionNames, true);
            CheckNames("blendshapes", blendNames, false);

            int count = 4 * boneNames.Count + 3 * positionNames.Count + blendNames.Count + (withConfidence ? boneNames.Count : 0);
            var values = new float[count];
            int at = 0;
            foreach (BoneRotation b in pose.Bones)
            {
                values[at++] = (float)b.LocalRotation.X;
                values[at++] = (float)b.LocalRotation.Y;
                values[at++] = (float)b.LocalRotation.Z;
                values[at++] = (float)b.LocalRotation.W;
            }
            foreach (BonePosition p in pose.Positions)
            {
                values[at++] = (float)p.LocalPositionM.X;
                values[at++] = (float)p.LocalPositionM.Y;
                values[at++] = (float)p.LocalPositionM.Z;
            }
            foreach (KeyValuePair<string, double> e in pose.Blendshapes) values[at++] = (float)e.Value;
            if (withConfidence) foreach (double c in pose.Confidence) values[at++] = (float)c;

            var fields = new MsgPackMap(8)
                .Add("performer", pose.Performer)
                .Add("t_ns", pose.TNs)
                .Add("source", pose.Source ?? "")
                .Add("root", MsgPackValue.FromDoubles(new[]
                {
                    pose.RootPositionM.X, pose.RootPositionM.Y, pose.RootPositionM.Z,
                    pose.RootRotation.X, pose.RootRotation.Y, pose.RootRotation.Z, pose.RootRotation.W,
                }))
                .Add("bones", MsgPackValue.FromStrings(boneNames))
                .Add("positions", MsgPackValue.FromStrings(positionNames))
                .Add("blendshapes", MsgPackValue.FromStrings(blendNames))
                .Add("confidence", withConfidence);
            var message = new Mocap { Fields = fields };
            message.Parts.Add(FloatsToLittleEndian(values));
            return message;
        }

        private static void CheckNames(string key, List<string> names, bool bones)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (string n in names)
            {
                if (bones && HumanoidBones.IndexOf(n) < 0) throw new ArgumentException("MOCAP." + key + " names unknown bone '" + n + "'");
                if (!seen.Add(n)) throw new ArgumentException("MOCAP." + key + " repeats '" + n + "'");
            }
            if (!bones && names.Count > MaxBlendshapes) throw new ArgumentException("MOCAP.blendshapes lists " + names.Count + " names, at most " + MaxBlendshapes);
        }

        public static byte[] FloatsToLittleEndian(float[] values)
        {
            var bytes = new byte[values.Length * 4];
            Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
            if (!BitConverter.IsLittleEndian)
            {
                for (int i = 0; i < bytes.Length; i += 4) Array.Reverse(bytes, i, 4);
            }
            return bytes;
        }

        private static float ReadFloat(byte[] data, int offset)
        {
            if (BitConverter.IsLittleEndian) return BitConverter.ToSingle(data, offset);
            var b = new[] { data[offset + 3], data[offset + 2], data[offset + 1], data[offset] };
            return BitConverter.ToSingle(b, 0);
        }

        private static List<string> Names(FieldReader r, string key, bool required, bool bones)
        {
            List<MsgPackValue> raw = required ? r.List(key) : r.OptList(key);
            var names = new List<string>();
            if (raw == null) return names;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < raw.Count; i++)
            {
                if (raw[i].Type != MsgPackType.Str) throw r.Fail("MOCAP." + key + "[" + i + "] must be a str, got " + MsgPackValue.TypeName(raw[i].Type));
                string name = raw[i].AsString;
                if (bones && HumanoidBones.IndexOf(name) < 0)
                {
                    throw r.Fail("MOCAP." + key + " names unknown bone '" + name + "' (not a Unity HumanBodyBones name)");
                }
                if (!seen.Add(name)) throw r.Fail("MOCAP." + key + " repeats '" + name + "'");
                names.Add(name);
            }
            return names;
        }

        /// <summary>The pose of a MOCAP message; throws ProtocolException (BAD_FIELD or PLANE_MISMATCH) naming the cause.</summary>
        public static HumanoidPose Decode(Mocap message)
        {
            if (message.Parts.Count != 1)
            {
                throw new ProtocolException(ErrorCode.PLANE_MISMATCH,
                    "MOCAP carries exactly one binary part (the pose), got " + message.Parts.Count, MessageKinds.Mocap);
            }
            var r = new FieldReader(message.Fields, "MOCAP", MessageKinds.Mocap);
            string performer = r.Str("performer", checkLength: false);
            int performerBytes = Encoding.UTF8.GetByteCount(performer);
            if (performerBytes < 1 || performerBytes > MaxPerformerBytes)
            {
                throw r.Fail("MOCAP.performer must be 1.." + MaxPerformerBytes + " UTF-8 bytes, got " + performerBytes);
            }
            long tNs = r.Int("t_ns");
            string source = r.StrOr("source", "");
            double[] root = r.Floats("root", 7);
            foreach (double v in root)
            {
                if (double.IsNaN(v) || double.IsInfinity(v)) throw r.Fail("MOCAP.root holds non-finite values");
            }
            List<string> bones = Names(r, "bones", true, true);
            List<string> positions = Names(r, "positions", false, true);
            List<string> blendshapes = Names(r, "blendshapes", false, false);
            if (blendshapes.Count > MaxBlendshapes)
            {
                throw r.Fail("MOCAP.blendshapes lists " + blendshapes.Count + " names, at most " + MaxBlendshapes);
            }
            bool withConfidence = r.BoolOr("confidence", false);

            int count = 4 * bones.Count + 3 * positions.Count + blendshapes.Count + (withConfidence ? bones.Count : 0);
            byte[] part = message.Parts[0];
            if (part.Length != 4 * count)
            {
                throw new ProtocolException(ErrorCode.PLANE_MISMATCH,
                    "MOCAP pose part is " + part.Length + " bytes; " + bones.Count + " bones, " + positions.Count + " positions, "
                    + blendshapes.Count + " blendshapes" + (withConfidence ? " and confidences" : "") + " need " + 4 * count,
                    MessageKinds.Mocap);
            }
            var values = new double[count];
            for (int i = 0; i < count; i++)
            {
                values[i] = ReadFloat(part, 4 * i);
                if (double.IsNaN(values[i]) || double.IsInfinity(values[i])) throw r.Fail("MOCAP pose part holds non-finite values");
            }
            var rootRotation = new Quatd(root[3], root[4], root[5], root[6]);
            if (rootRotation.Length < 1e-6) throw r.Fail("MOCAP.root rotation has zero length");
            var pose = new HumanoidPose
            {
                Performer = performer,
                TNs = tNs,
                Source = source,
                RootPositionM = new Vec3d(root[0], root[1], root[2]),
                RootRotation = rootRotation.Normalized(),
            };
            int at = 0;
            foreach (string bone in bones)
            {
                var q = new Quatd(values[at], values[at + 1], values[at + 2], values[at + 3]);
                at += 4;
                if (q.Length < 1e-6) throw r.Fail("MOCAP rotation of '" + bone + "' has zero length");
                pose.Bones.Add(new BoneRotation(bone, q.Normalized()));
            }
            foreach (string bone in positions)
            {
                pose.Positions.Add(new BonePosition(bone, new Vec3d(values[at], values[at + 1], values[at + 2])));
                at += 3;
            }
            foreach (string name in blendshapes) pose.Blendshapes.Add(new KeyValuePair<string, double>(name, values[at++]));
            if (withConfidence)
            {
                pose.Confidence = new List<double>(bones.Count);
                for (int i = 0; i < bones.Count; i++) pose.Confidence.Add(values[at++]);
            }
            return pose;
        }
    }
}
