// Drives a Humanoid Animator from MOCAP messages relayed by the server (docs/protocol.md 6.11):
// one performer's pose, in Unity's space, each bone's rotation relative to the T-pose. Bones
// are posed after the Animator has run (LateUpdate), parents first, so mocap overrides any
// animation; the root follows the performer (relative to an optional origin); the hips take
// the performer's hips position; blendshapes go to an optional face mesh by name.
using System.Collections.Generic;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;
using UnityEngine;

namespace MachinimaBridge
{
    [RequireComponent(typeof(Animator))]
    [AddComponentMenu("Machinima Bridge/Mocap Receiver")]
    public sealed class MocapReceiver : MonoBehaviour
    {
        public BridgeConnection connection;

        [Tooltip("The performer id to follow; empty: the first performer heard.")]
        public string performer = "";

        [Tooltip("Move and turn this object with the performer's root.")]
        public bool applyRootMotion = true;

        [Tooltip("Performer space is placed relative to this transform (empty: the world origin).")]
        public Transform origin;

        [Tooltip("Place the hips where the performer's hips are (else the avatar keeps its own hips offset).")]
        public bool applyHipsPosition = true;

        [Tooltip("0: follow each pose at once; towards 1: smoother and later.")]
        [Range(0f, 0.95f)] public float smoothing;

        [Tooltip("Optional: the face mesh whose blendshapes (by name) follow the performer's, 0..1 mapped to 0..100.")]
        public SkinnedMeshRenderer faceMesh;

        public long PosesReceived { get; private set; }
        public long PosesRefused { get; private set; }
        public string FollowedPerformer { get; private set; }
        public double LastPoseAgeMs { get; private set; }
        public string LastProblem { get; private set; }

        private HumanoidRig _rig;
        private HumanoidPose _latest;
        private Quaternion[] _shown;
        private readonly Dictionary<string, int> _blendshapeIndex = new Dictionary<string, int>();

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
                LastProblem = e.Message;
                Debug.LogError("[machinima-bridge] " + e.Message, this);
                enabled = false;
                return;
            }
            _shown = new Quaternion[HumanoidBones.Count];
            if (connection != null) connection.MocapReceived += OnMocap;
        }

        private void OnDisable()
        {
            if (connection != null) connection.MocapReceived -= OnMocap;
            _latest = null;
        }

        private void OnMocap(Mocap message)
        {
            HumanoidPose pose;
            try
            {
                pose = MocapPoseCodec.Decode(message);
            }
            catch (ProtocolException e)
            {
                PosesRefused++;
                LastProblem = e.Message;
                return;
            }
            string wanted = string.IsNullOrEmpty(performer) ? FollowedPerformer : performer;
            if (wanted == null) wanted = pose.Performer;
            if (pose.Performer != wanted) return;
            FollowedPerformer = wanted;
            _latest = pose;
            PosesReceived++;
            LastPoseAgeMs = (HumanoidPose.UnixTimeNs() - pose.TNs) / 1e6; // across machines: includes their clock offset
        }

        private void LateUpdate()
        {
            HumanoidPose pose = _latest;
            if (pose == null || _rig == null) return;
            Transform root = _rig.Root;
            if (applyRootMotion)
            {
                Vector3 position = UnityConvert.ToVector3(pose.RootPositionM);
                Quaternion rotation = UnityConvert.ToQuaternion(pose.RootRotation);
                if (origin != null)
                {
                    position = origin.TransformPoint(position);
                    rotation = origin.rotation * rotation;
                }
                root.SetPositionAndRotation(position, rotation);
            }
            Quatd?[] avatar = HumanoidRetarget.AvatarRotations(pose, _rig.TPose);
            float follow = 1f - smoothing;
            foreach (int b in HumanoidBones.ParentFirstOrder)
            {
                Transform bone = _rig.Bones[b];
                if (bone == null || !avatar[b].HasValue) continue;
                Quaternion target = root.rotation * UnityConvert.ToQuaternion(avatar[b].Value);
                _shown[b] = smoothing > 0f && _shown[b].w != 0f ? Quaternion.Slerp(_shown[b], target, follow) : target;
                bone.rotation = _shown[b];
            }
            Transform hips = _rig.Bones[0];
            if (applyHipsPosition && hips != null)
            {
                foreach (BonePosition p in pose.Positions)
                {
                    if (p.Bone == "Hips") hips.position = root.position + root.rotation * UnityConvert.ToVector3(p.LocalPositionM);
                }
            }
            ApplyBlendshapes(pose);
        }

        private void ApplyBlendshapes(HumanoidPose pose)
        {
            if (faceMesh == null || faceMesh.sharedMesh == null) return;
            foreach (KeyValuePair<string, double> e in pose.Blendshapes)
            {
                int index;
                if (!_blendshapeIndex.TryGetValue(e.Key, out index))
                {
                    index = faceMesh.sharedMesh.GetBlendShapeIndex(e.Key);
                    _blendshapeIndex[e.Key] = index;
                }
                if (index >= 0) faceMesh.SetBlendShapeWeight(index, Mathf.Clamp01((float)e.Value) * 100f);
            }
        }
    }
}
