// Sends a Humanoid Animator's pose as MOCAP messages, so other engines in the session (Unreal
// Live Link, other Unity instances) receive this character as a performer: each bone's
// rotation relative to the T-pose, the root relative to an optional origin, the hips' local
// position, and optional blendshape weights, at a chosen rate.
using System.Collections.Generic;
using MachinimaBridge.Core;
using UnityEngine;

namespace MachinimaBridge
{
    [RequireComponent(typeof(Animator))]
    [AddComponentMenu("Machinima Bridge/Mocap Sender")]
    public sealed class MocapSender : MonoBehaviour
    {
        public BridgeConnection connection;

        [Tooltip("Performer id, unique in the session; empty: this GameObject's name.")]
        public string performer = "";

        [Range(1, 240)] public float posesPerSecond = 60f;

        [Tooltip("Root position and rotation are sent relative to this transform (empty: world).")]
        public Transform origin;

        [Tooltip("Optional: a face mesh whose blendshape weights (0..100) are sent as 0..1 by name.")]
        public SkinnedMeshRenderer faceMesh;

        public long PosesSent { get; private set; }

        private HumanoidRig _rig;
        private double _next;

        private void Reset()
        {
            connection = FindObjectOfType<BridgeConnection>();
        }

        private void OnEnable()
        {
            try
            {
                _rig = new HumanoidRig(GetComponent<Animator>());
            }
            catch (System.ArgumentException e)
            {
                Debug.LogError("[machinima-bridge] " + e.Message, this);
                enabled = false;
            }
        }

        private void LateUpdate()
        {
            if (connection == null || connection.Session == null || connection.Session.State != SessionState.Welcomed) return;
            double now = Time.unscaledTimeAsDouble;
            if (now < _next) return;
            _next = System.Math.Max(_next + 1.0 / posesPerSecond, now - 0.5 / posesPerSecond);
            connection.SendMocap(MocapPoseCodec.Encode(CurrentPose()));
            PosesSent++;
        }

        /// <summary>The character's pose now, in the MOCAP conventions.</summary>
        public HumanoidPose CurrentPose()
        {
            Transform root = _rig.Root;
            Vector3 position = root.position;
            Quaternion rotation = root.rotation;
            if (origin != null)
            {
                position = origin.InverseTransformPoint(position);
                rotation = Quaternion.Inverse(origin.rotation) * rotation;
            }
            var pose = new HumanoidPose
            {
                Performer = string.IsNullOrEmpty(performer) ? gameObject.name : performer,
                TNs = HumanoidPose.UnixTimeNs(),
                Source = "unity",
                RootPositionM = UnityConvert.ToVec3d(position),
                RootRotation = UnityConvert.ToQuatd(rotation),
                Bones = HumanoidRetarget.CanonicalFromAvatar(_rig.CurrentRootRelative(), _rig.TPose),
            };
            Transform hips = _rig.Bones[0];
            if (hips != null)
            {
                Vector3 local = Quaternion.Inverse(root.rotation) * (hips.position - root.position);
                pose.Positions.Add(new BonePosition("Hips", UnityConvert.ToVec3d(local)));
            }
            if (faceMesh != null && faceMesh.sharedMesh != null)
            {
                Mesh mesh = faceMesh.sharedMesh;
                for (int i = 0; i < mesh.blendShapeCount && i < MocapPoseCodec.MaxBlendshapes; i++)
                {
                    pose.Blendshapes.Add(new KeyValuePair<string, double>(mesh.GetBlendShapeName(i), faceMesh.GetBlendShapeWeight(i) / 100.0));
                }
            }
            return pose;
        }
    }
}
