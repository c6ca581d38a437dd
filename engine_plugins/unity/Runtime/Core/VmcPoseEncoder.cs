// A humanoid pose as VMC protocol packets (OSC over UDP), the way a VMC "Performer" sends it
// to a "Marionette" (VSeeFace, Warudo, ...): values in Unity's space (left-handed, +y up,
// metres), bone transforms local, floats as OSC 'f'. Messages are packed into bundles that
// stay under the packet budget (1500-byte Ethernet MTU minus headers).
using System;
using System.Collections.Generic;

namespace MachinimaBridge.Core
{
    public struct VmcBone
    {
        /// <summary>A HumanBodyBones name.</summary>
        public string Name;
        public Vec3d LocalPositionM;
        public Quatd LocalRotation;

        public VmcBone(string name, Vec3d localPositionM, Quatd localRotation)
        {
            Name = name;
            LocalPositionM = localPositionM;
            LocalRotation = localRotation;
        }
    }

    public sealed class VmcFrame
    {
        /// <summary>Sender time in seconds (/VMC/Ext/T).</summary>
        public double TimeS;
        public Vec3d RootPositionM;
        public Quatd RootRotation = Quatd.Identity;
        public readonly List<VmcBone> Bones = new List<VmcBone>();
        public readonly List<KeyValuePair<string, double>> Blendshapes = new List<KeyValuePair<string, double>>();
    }

    public static class VmcPoseEncoder
    {
        public const int DefaultMaxPacketBytes = 1400;
        public const int MarionettePort = 39539;

        public static List<OscMessage> Messages(VmcFrame frame)
        {
            var list = new List<OscMessage>(frame.Bones.Count + frame.Blendshapes.Count + 4)
            {
                new OscMessage("/VMC/Ext/OK", 1),
                new OscMessage("/VMC/Ext/T", (float)frame.TimeS),
                new OscMessage("/VMC/Ext/Root/Pos", "root",
                    (float)frame.RootPositionM.X, (float)frame.RootPositionM.Y, (float)frame.RootPositionM.Z,
                    (float)frame.RootRotation.X, (float)frame.RootRotation.Y, (float)frame.RootRotation.Z, (float)frame.RootRotation.W),
            };
            foreach (VmcBone b in frame.Bones)
            {
                if (HumanoidBones.IndexOf(b.Name) < 0)
                {
                    throw new ArgumentException("'" + b.Name + "' is not a HumanBodyBones name");
                }
                list.Add(new OscMessage("/VMC/Ext/Bone/Pos", b.Name,
                    (float)b.LocalPositionM.X, (float)b.LocalPositionM.Y, (float)b.LocalPositionM.Z,
                    (float)b.LocalRotation.X, (float)b.LocalRotation.Y, (float)b.LocalRotation.Z, (float)b.LocalRotation.W));
            }
            if (frame.Blendshapes.Count > 0)
            {
                foreach (KeyValuePair<string, double> e in frame.Blendshapes)
                {
                    list.Add(new OscMessage("/VMC/Ext/Blend/Val", e.Key, (float)e.Value));
                }
                list.Add(new OscMessage("/VMC/Ext/Blend/Apply"));
            }
            return list;
        }

        /// <summary>The frame as OSC bundles, each at most <paramref name="maxPacketBytes"/> bytes, messages in order.</summary>
        public static List<byte[]> Packets(VmcFrame frame, int maxPacketBytes = DefaultMaxPacketBytes)
        {
            var packets = new List<byte[]>();
            var pending = new List<byte[]>();
            int size = OscPacketWriter.BundleHeaderBytes;
            foreach (OscMessage m in Messages(frame))
            {
                byte[] encoded = OscPacketWriter.EncodeMessage(m);
                int element = OscPacketWriter.BundleElementBytes(encoded);
                if (OscPacketWriter.BundleHeaderBytes + element > maxPacketBytes)
                {
                    throw new ArgumentException("OSC message " + m.Address + " needs " + element + " bytes, more than the packet budget " + maxPacketBytes);
                }
                if (size + element > maxPacketBytes)
                {
                    packets.Add(OscPacketWriter.EncodeBundle(pending));
                    pending.Clear();
                    size = OscPacketWriter.BundleHeaderBytes;
                }
                pending.Add(encoded);
                size += element;
            }
            if (pending.Count > 0) packets.Add(OscPacketWriter.EncodeBundle(pending));
            return packets;
        }
    }
}
