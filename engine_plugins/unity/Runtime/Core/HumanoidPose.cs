// The humanoid pose a MOCAP message carries (docs/protocol.md 6.11, mocap/skeleton.py):
// Unity HumanBodyBones names, Unity's space (left-handed, +y up, metres), each bone's local
// rotation relative to its parent and relative to the T-pose bind (identity = T-pose), a root
// transform, optional local bone positions, blendshapes (ARKit names, 0..1) and confidences.
using System;
using System.Collections.Generic;

namespace MachinimaBridge.Core
{
    public static class HumanoidBones
    {
        /// <summary>Unity's HumanBodyBones in enum order (the index is the enum value).</summary>
        public static readonly string[] Names =
        {
            "Hips", "LeftUpperLeg", "RightUpperLeg", "LeftLowerLeg", "RightLowerLeg", "LeftFoot", "RightFoot",
            "Spine", "Chest", "Neck", "Head", "LeftShoulder", "RightShoulder", "LeftUpperArm", "RightUpperArm",
            "LeftLowerArm", "RightLowerArm", "LeftHand", "RightHand", "LeftToes", "RightToes", "LeftEye", "RightEye",
            "Jaw",
            "LeftThumbProximal", "LeftThumbIntermediate", "LeftThumbDistal",
            "LeftIndexProximal", "LeftIndexIntermediate", "LeftIndexDistal",
            "LeftMiddleProximal", "LeftMiddleIntermediate", "LeftMiddleDistal",
            "LeftRingProximal", "LeftRingIntermediate", "LeftRingDistal",
            "LeftLittleProximal", "LeftLittleIntermediate", "LeftLittleDistal",
            "RightThumbProximal", "RightThumbIntermediate", "RightThumbDistal",
            "RightIndexProximal", "RightIndexIntermediate", "RightIndexDistal",
            "RightMiddleProximal", "RightMiddleIntermediate", "RightMiddleDistal",
            "RightRingProximal", "RightRingIntermediate", "RightRingDistal",
            "RightLittleProximal", "RightLittleIntermediate", "RightLittleDistal",
            "UpperChest",
        };

        public const int Count = 55;

        private static readonly Dictionary<string, int> IndexByName = BuildIndex();

        /// <summary>Parent of every bone in the canonical humanoid hierarchy (-1 for Hips), UpperChest between Chest and Neck.</summary>
        public static readonly int[] Parents = BuildParents();

        /// <summary>Bone indices with every parent before its children.</summary>
        public static readonly int[] ParentFirstOrder = BuildOrder();

        private static Dictionary<string, int> BuildIndex()
        {
            var d = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < Names.Length; i++) d.Add(Names[i], i);
            return d;
        }

        /// <summary>The HumanBodyBones value of a bone name, or -1 for a name Unity does not know.</summary>
        public static int IndexOf(string name)
        {
            int i;
            return name != null && IndexByName.TryGetValue(name, out i) ? i : -1;
        }

        private static int[] BuildParents()
        {
            var parentOf = new Dictionary<string, string>
            {
                { "Spine", "Hips" }, { "Chest", "Spine" }, { "UpperChest", "Chest" }, { "Neck", "UpperChest" },
                { "Head", "Neck" }, { "LeftEye", "Head" }, { "RightEye", "Head" }, { "Jaw", "Head" },
            };
            foreach (string side in new[] { "Left", "Right" })
            {
                parentOf[side + "UpperLeg"] = "Hips";
                parentOf[side + "LowerLeg"] = side + "UpperLeg";
                parentOf[side + "Foot"] = side + "LowerLeg";
                parentOf[side + "Toes"] = side + "Foot";
                parentOf[side + "Shoulder"] = "UpperChest";
                parentOf[side + "UpperArm"] = side + "Shoulder";
                parentOf[side + "LowerArm"] = side + "UpperArm";
                parentOf[side + "Hand"] = side + "LowerArm";
                foreach (string finger in new[] { "Thumb", "Index", "Middle", "Ring", "Little" })
                {
                    parentOf[side + finger + "Proximal"] = side + "Hand";
                    parentOf[side + finger + "Intermediate"] = side + finger + "Proximal";
                    parentOf[side + finger + "Distal"] = side + finger + "Intermediate";
                }
            }
            var parents = new int[Names.Length];
            for (int i = 0; i < Names.Length; i++)
            {
                string parent;
                parents[i] = parentOf.TryGetValue(Names[i], out parent) ? IndexOf(parent) : -1;
            }
            return parents;
        }

        private static int[] BuildOrder()
        {
            var order = new List<int>(Names.Length);
            var placed = new bool[Names.Length];
            while (order.Count < Names.Length)
            {
                for (int i = 0; i < Names.Length; i++)
                {
                    if (placed[i]) continue;
                    if (Parents[i] < 0 || placed[Parents[i]])
                    {
                        order.Add(i);
                        placed[i] = true;
                    }
                }
            }
            return order.ToArray();
        }
    }

    public struct BoneRotation
    {
        public string Bone;
        public Quatd LocalRotation;

        public BoneRotation(string bone, Quatd localRotation)
        {
            Bone = bone;
            LocalRotation = localRotation;
        }
    }

    public struct BonePosition
    {
        public string Bone;
        public Vec3d LocalPositionM;

        public BonePosition(string bone, Vec3d localPositionM)
        {
            Bone = bone;
            LocalPositionM = localPositionM;
        }
    }

    public sealed class HumanoidPose
    {
        public string Performer = "";
        /// <summary>Capture time: wall clock nanoseconds since the Unix epoch on the capturing machine.</summary>
        public long TNs;
        /// <summary>"xsens", "vmc", "bvh", "move_live", "webcam", "unity", ... or "".</summary>
        public string Source = "";
        /// <summary>World position of the character root (the object carrying the skeleton), metres.</summary>
        public Vec3d RootPositionM;
        public Quatd RootRotation = Quatd.Identity;
        /// <summary>Local rotations relative to the T-pose bind; bones left out are identity (not tracked).</summary>
        public List<BoneRotation> Bones = new List<BoneRotation>();
        /// <summary>Optional local translations in the parent's frame (typically only Hips).</summary>
        public List<BonePosition> Positions = new List<BonePosition>();
        /// <summary>Blendshape weights 0..1 by name, in order.</summary>
        public List<KeyValuePair<string, double>> Blendshapes = new List<KeyValuePair<string, double>>();
        /// <summary>One confidence 0..1 per entry of Bones, or null when the source gives none.</summary>
        public List<double> Confidence;

        public static long UnixTimeNs()
        {
            return (DateTime.UtcNow.Ticks - 621355968000000000L) * 100L;
        }

        /// <summary>
        /// Rotation of every bone relative to the root (index = HumanBodyBones), composing local rotations down the
        /// canonical hierarchy: C[b] = C[parent] * q[b]; bones not in the pose contribute identity.
        /// </summary>
        public Quatd[] RootRelativeRotations()
        {
            var local = new Quatd[HumanoidBones.Count];
            for (int i = 0; i < local.Length; i++) local[i] = Quatd.Identity;
            foreach (BoneRotation b in Bones)
            {
                int index = HumanoidBones.IndexOf(b.Bone);
                if (index >= 0) local[index] = b.LocalRotation.Normalized();
            }
            var world = new Quatd[HumanoidBones.Count];
            foreach (int i in HumanoidBones.ParentFirstOrder)
            {
                int p = HumanoidBones.Parents[i];
                world[i] = p < 0 ? local[i] : world[p] * local[i];
            }
            return world;
        }

        /// <summary>The hips' position relative to the root: its local "Hips" position when the pose has one, else zero.</summary>
        public Vec3d HipsOffsetM()
        {
            foreach (BonePosition p in Positions)
            {
                if (p.Bone == "Hips") return p.LocalPositionM;
            }
            return new Vec3d(0, 0, 0);
        }
    }
}
