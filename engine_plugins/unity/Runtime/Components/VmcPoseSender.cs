// Sends a Humanoid Animator's pose over the VMC protocol (OSC over UDP) as a VMC "Performer",
// so VMC tools (VSeeFace, Warudo, VMC-aware renderers; a Marionette listens on 39539) or the
// bridge's own VMC input can follow this character. Values are Unity's: root in world space,
// bones as their local transforms, floats as OSC 'f'; bundles stay under 1400 bytes.
using System;
using System.Collections.Generic;
using System.Net.Sockets;
using MachinimaBridge.Core;
using UnityEngine;

namespace MachinimaBridge
{
    [RequireComponent(typeof(Animator))]
    [AddComponentMenu("Machinima Bridge/VMC Pose Sender")]
    public sealed class VmcPoseSender : MonoBehaviour
    {
        public string host = "127.0.0.1";
        [Range(1, 65535)] public int port = VmcPoseEncoder.MarionettePort;
        [Range(1, 240)] public float posesPerSecond = 60f;

        [Tooltip("Optional: blendshapes of this mesh are sent as /VMC/Ext/Blend/Val (weight 0..100 -> 0..1).")]
        public SkinnedMeshRenderer faceMesh;

        public long PacketsSent { get; private set; }
        public string LastProblem { get; private set; }

        private Animator _animator;
        private UdpClient _udp;
        private double _next;
        private readonly Transform[] _bones = new Transform[HumanoidBones.Count];

        private void OnEnable()
        {
            _animator = GetComponent<Animator>();
            if (_animator.avatar == null || !_animator.avatar.isHuman)
            {
                LastProblem = "Animator on " + name + " needs a Humanoid avatar";
                Debug.LogError("[machinima-bridge] " + LastProblem, this);
                enabled = false;
                return;
            }
            for (int i = 0; i < HumanoidBones.Count; i++) _bones[i] = _animator.GetBoneTransform((HumanBodyBones)i);
            _udp = new UdpClient();
        }

        private void OnDisable()
        {
            if (_udp != null) _udp.Close();
            _udp = null;
        }

        private void LateUpdate()
        {
            if (_udp == null) return;
            double now = Time.unscaledTimeAsDouble;
            if (now < _next) return;
            _next = Math.Max(_next + 1.0 / posesPerSecond, now - 0.5 / posesPerSecond);
            var frame = new VmcFrame
            {
                TimeS = Time.unscaledTime,
                RootPositionM = UnityConvert.ToVec3d(transform.position),
                RootRotation = UnityConvert.ToQuatd(transform.rotation),
            };
            for (int i = 0; i < HumanoidBones.Count; i++)
            {
                Transform b = _bones[i];
                if (b == null) continue;
                frame.Bones.Add(new VmcBone(HumanoidBones.Names[i], UnityConvert.ToVec3d(b.localPosition), UnityConvert.ToQuatd(b.localRotation)));
            }
            if (faceMesh != null && faceMesh.sharedMesh != null)
            {
                Mesh mesh = faceMesh.sharedMesh;
                for (int i = 0; i < mesh.blendShapeCount; i++)
                {
                    frame.Blendshapes.Add(new KeyValuePair<string, double>(mesh.GetBlendShapeName(i), faceMesh.GetBlendShapeWeight(i) / 100.0));
                }
            }
            try
            {
                foreach (byte[] packet in VmcPoseEncoder.Packets(frame))
                {
                    _udp.Send(packet, packet.Length, host, port);
                    PacketsSent++;
                }
            }
            catch (SocketException e)
            {
                LastProblem = "VMC send to " + host + ":" + port + " failed: " + e.Message;
            }
        }
    }
}
