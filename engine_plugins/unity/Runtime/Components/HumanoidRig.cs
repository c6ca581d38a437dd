// A Humanoid Animator's bone transforms and their T-pose rotations relative to the avatar root,
// which HumanoidRetarget needs to map canonical poses (identity = T-pose) onto this avatar and
// back. The T-pose comes from the Avatar's own description (the pose it was configured in);
// an avatar without one uses the pose it stands in when the rig is built.
using System.Collections.Generic;
using MachinimaBridge.Core;
using UnityEngine;

namespace MachinimaBridge
{
    public sealed class HumanoidRig
    {
        public readonly Animator Animator;
        public readonly Transform Root;
        /// <summary>Bone transforms by HumanBodyBones index (null where the avatar has none).</summary>
        public readonly Transform[] Bones = new Transform[HumanoidBones.Count];
        /// <summary>T-pose rotation of each bone relative to the root (null where the avatar has none).</summary>
        public readonly Quatd?[] TPose = new Quatd?[HumanoidBones.Count];
        public readonly bool TPoseFromAvatarDescription;

        public HumanoidRig(Animator animator)
        {
            Animator = animator;
            Root = animator.transform;
            if (animator.avatar == null || !animator.avatar.isHuman)
            {
                throw new System.ArgumentException("Animator on " + animator.name + " needs a Humanoid avatar");
            }
            for (int i = 0; i < HumanoidBones.Count; i++) Bones[i] = animator.GetBoneTransform((HumanBodyBones)i);

            var described = new Dictionary<string, Quaternion>();
            foreach (SkeletonBone bone in animator.avatar.humanDescription.skeleton)
            {
                if (!described.ContainsKey(bone.name)) described.Add(bone.name, bone.rotation);
            }
            TPoseFromAvatarDescription = described.Count > 0;
            for (int i = 0; i < HumanoidBones.Count; i++)
            {
                if (Bones[i] == null) continue;
                Quaternion q = Quaternion.identity;
                for (Transform t = Bones[i]; t != null && t != Root; t = t.parent)
                {
                    Quaternion local;
                    if (!described.TryGetValue(t.name, out local)) local = t.localRotation;
                    q = local * q;
                }
                TPose[i] = UnityConvert.ToQuatd(q);
            }
        }

        /// <summary>Current bone rotations relative to the root.</summary>
        public Quatd?[] CurrentRootRelative()
        {
            var result = new Quatd?[HumanoidBones.Count];
            Quaternion inverseRoot = Quaternion.Inverse(Root.rotation);
            for (int i = 0; i < HumanoidBones.Count; i++)
            {
                if (Bones[i] != null) result[i] = UnityConvert.ToQuatd(inverseRoot * Bones[i].rotation);
            }
            return result;
        }
    }
}
