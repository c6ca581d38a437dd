// Sends one full-body VMC pose (every HumanBodyBones bone, a root, two blendshapes) over UDP,
// as the VmcPoseSender component does each frame; the Python test receives it with python-osc,
// an independent OSC implementation, and checks addresses, types and values.
using System;
using System.Collections.Generic;
using System.Net.Sockets;
using MachinimaBridge.Core;

namespace MachinimaBridge.Standalone
{
    public static class VmcProbe
    {
        public static VmcFrame SampleFrame()
        {
            var frame = new VmcFrame
            {
                TimeS = 12.25,
                RootPositionM = new Vec3d(0.5, 0.0, -1.25),
                RootRotation = Quatd.AxisAngleDeg(new Vec3d(0, 1, 0), 90),
            };
            for (int i = 0; i < HumanoidBones.Names.Length; i++)
            {
                frame.Bones.Add(new VmcBone(HumanoidBones.Names[i], new Vec3d(0, 0.01 * i, 0), Quatd.AxisAngleDeg(new Vec3d(1, 0, 0), i)));
            }
            frame.Blendshapes.Add(new KeyValuePair<string, double>("Joy", 0.75));
            frame.Blendshapes.Add(new KeyValuePair<string, double>("Blink_L", 1.0));
            return frame;
        }

        public static int Run(string host, int port)
        {
            List<byte[]> packets = VmcPoseEncoder.Packets(SampleFrame());
            using (var udp = new UdpClient())
            {
                foreach (byte[] p in packets) udp.Send(p, p.Length, host, port);
            }
            int largest = 0;
            foreach (byte[] p in packets) largest = Math.Max(largest, p.Length);
            new JsonLine("vmc-sent").Add("packets", packets.Count).Add("largest_packet_bytes", largest).Print();
            return 0;
        }
    }
}
