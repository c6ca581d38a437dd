// Mapping the canonical pose (identity = T-pose for every bone) onto an avatar whose bones have
// their own bind orientations, and back. T[b] is the avatar bone's rotation relative to the
// avatar root while the avatar stands in its T-pose; C[b] the canonical root-relative rotation.
//
//   avatar (root-relative) A[b] = C[b] * T[b]          (receiver: MocapReceiver)
//   canonical              C[b] = A[b] * inverse(T[b]) (sender: MocapSender)
//   canonical local        q[b] = inverse(C[nearest present ancestor]) * C[b]
//
// Setting each mapped bone's rotation to root * A[b], parents first, gives every mapped bone
// its pose no matter which unmapped transforms sit between humanoid bones.
using System.Collections.Generic;

namespace MachinimaBridge.Core
{
    public static class HumanoidRetarget
    {
        /// <summary>
        /// Root-relative avatar rotations for a pose: entry b is set where <paramref name="tPoseRootRelative"/>
        /// has bone b (HumanBodyBones index), null elsewhere.
        /// </summary>
        public static Quatd?[] AvatarRotations(HumanoidPose pose, Quatd?[] tPoseRootRelative)
        {
            Quatd[] canonical = pose.RootRelativeRotations();
            var result = new Quatd?[HumanoidBones.Count];
            for (int b = 0; b < HumanoidBones.Count; b++)
            {
                if (tPoseRootRelative[b].HasValue) result[b] = canonical[b] * tPoseRootRelative[b].Value;
            }
            return result;
        }

        /// <summary>
        /// Canonical local rotations (relative to the T-pose) of the avatar bones present in both arrays, in
        /// HumanBodyBones order; a bone whose canonical parent is missing on the avatar is taken relative to
        /// its nearest present ancestor, which a receiver composes with identity for the missing bones.
        /// </summary>
        public static List<BoneRotation> CanonicalFromAvatar(Quatd?[] avatarRootRelative, Quatd?[] tPoseRootRelative)
        {
            var canonical = new Quatd?[HumanoidBones.Count];
            for (int b = 0; b < HumanoidBones.Count; b++)
            {
                if (avatarRootRelative[b].HasValue && tPoseRootRelative[b].HasValue)
                {
                    canonical[b] = avatarRootRelative[b].Value * tPoseRootRelative[b].Value.Inverse();
                }
            }
            var bones = new List<BoneRotation>();
            for (int b = 0; b < HumanoidBones.Count; b++)
            {
                if (!canonical[b].HasValue) continue;
                int ancestor = HumanoidBones.Parents[b];
                while (ancestor >= 0 && !canonical[ancestor].HasValue) ancestor = HumanoidBones.Parents[ancestor];
                Quatd local = ancestor < 0 ? canonical[b].Value : canonical[ancestor].Value.Inverse() * canonical[b].Value;
                bones.Add(new BoneRotation(HumanoidBones.Names[b], local.Normalized()));
            }
            return bones;
        }
    }
}
