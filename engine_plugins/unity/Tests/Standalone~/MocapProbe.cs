// A shared session through the real server: this engine joins with the "mocap" and "session"
// capabilities, checks the SESSION snapshot, sets a key of the shared STATE and sees the change
// applied; then sends its performer's pose (as the MocapSender component does) until it receives
// another engine's pose (as the MocapReceiver component does), and prints that pose decoded.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Standalone
{
    public static class MocapProbe
    {
        public static HumanoidPose SentPose()
        {
            var pose = new HumanoidPose
            {
                Performer = "csharp-actor",
                TNs = HumanoidPose.UnixTimeNs(),
                Source = "unity",
                RootPositionM = new Vec3d(1.0, 0.0, 2.0),
                RootRotation = Quatd.AxisAngleDeg(new Vec3d(0, 1, 0), 90),
            };
            pose.Bones.Add(new BoneRotation("Hips", Quatd.Identity));
            pose.Bones.Add(new BoneRotation("Spine", Quatd.AxisAngleDeg(new Vec3d(1, 0, 0), 10)));
            pose.Bones.Add(new BoneRotation("LeftUpperArm", Quatd.AxisAngleDeg(new Vec3d(0, 0, 1), -80)));
            pose.Bones.Add(new BoneRotation("Head", Quatd.AxisAngleDeg(new Vec3d(0, 1, 0), 25)));
            pose.Positions.Add(new BonePosition("Hips", new Vec3d(0, 0.95, 0)));
            pose.Blendshapes.Add(new KeyValuePair<string, double>("jawOpen", 0.5));
            pose.Blendshapes.Add(new KeyValuePair<string, double>("eyeBlinkLeft", 1.0));
            pose.Confidence = new List<double> { 1.0, 0.9, 0.8, 0.7 };
            return pose;
        }

        private static string Numbers(IEnumerable<double> values)
        {
            var sb = new StringBuilder("[");
            foreach (double v in values)
            {
                if (sb.Length > 1) sb.Append(", ");
                sb.Append(v.ToString("R", CultureInfo.InvariantCulture));
            }
            return sb.Append(']').ToString();
        }

        private static string Strings(IEnumerable<string> values)
        {
            var sb = new StringBuilder("[");
            foreach (string v in values)
            {
                if (sb.Length > 1) sb.Append(", ");
                sb.Append('"').Append(v.Replace("\\", "\\\\").Replace("\"", "\\\"")).Append('"');
            }
            return sb.Append(']').ToString();
        }

        public static int Run(string endpoint, string session)
        {
            var options = new BridgeSessionOptions
            {
                Endpoint = endpoint,
                Engine = "machinima-bridge C# mocap probe",
                Session = session,
                Capabilities = { "mocap", "session" },
                WelcomeTimeoutMs = 20000,
            };
            using (var h = new SessionHarness(options, false))
            {
                h.Worker.Start();
                if (!h.WaitUntil(() => h.Session.State == SessionState.Welcomed, 30000))
                {
                    throw new TimeoutException("no WELCOME (" + h.Session.LastError + ")");
                }
                string engineId = h.Session.Welcome.EngineId;
                new JsonLine("welcome").Add("engine_id", engineId).Print();

                SessionEvent snapshot = h.Await<SessionEvent>(e => e.Event == SessionEvent.Snapshot, 10000, "SESSION snapshot");
                var members = new List<string>();
                foreach (SessionMember m in snapshot.Members) members.Add(m.EngineId + "=" + m.Engine);
                var cue = new MsgPackMap().Add("take", 3L).Add("cue", "lights up").Add("level", 0.75);
                h.Session.SubmitMessage(new StateChange { Key = "csharp.cue", Value = MsgPackValue.From(cue) });
                StateChange applied = h.Await<StateChange>(c => c.Key == "csharp.cue", 10000, "STATE csharp.cue as applied");
                new JsonLine("state-applied").Add("snapshot_session", snapshot.Session).Add("snapshot_engine_id", snapshot.EngineId)
                    .AddRaw("members", Strings(members)).AddRaw("snapshot_state", snapshot.State.ToString())
                    .Add("by", applied.By).Add("version", applied.Version ?? -1).AddRaw("value", applied.Value.ToString())
                    .Add("self", engineId).Print();
                var watch = Stopwatch.StartNew();
                int sent = 0;
                while (watch.ElapsedMilliseconds < 30000)
                {
                    HumanoidPose mine = SentPose();
                    h.Session.SubmitMessage(MocapPoseCodec.Encode(mine));
                    sent++;
                    BridgeMessage m;
                    while (h.Messages.TryTake(out m, 100))
                    {
                        var error = m as Error;
                        if (error != null) throw new InvalidOperationException("server refused the pose: " + error);
                        var mocap = m as Mocap;
                        if (mocap == null) continue;
                        HumanoidPose pose = MocapPoseCodec.Decode(mocap);
                        var rotations = new List<double>();
                        var names = new List<string>();
                        foreach (BoneRotation b in pose.Bones)
                        {
                            names.Add(b.Bone);
                            rotations.AddRange(new[] { b.LocalRotation.X, b.LocalRotation.Y, b.LocalRotation.Z, b.LocalRotation.W });
                        }
                        var positionNames = new List<string>();
                        var positions = new List<double>();
                        foreach (BonePosition p in pose.Positions)
                        {
                            positionNames.Add(p.Bone);
                            positions.AddRange(new[] { p.LocalPositionM.X, p.LocalPositionM.Y, p.LocalPositionM.Z });
                        }
                        var blendNames = new List<string>();
                        var blendValues = new List<double>();
                        foreach (KeyValuePair<string, double> e in pose.Blendshapes)
                        {
                            blendNames.Add(e.Key);
                            blendValues.Add(e.Value);
                        }
                        new JsonLine("mocap-received").Add("sent", sent).Add("performer", pose.Performer).Add("t_ns", pose.TNs)
                            .Add("source", pose.Source)
                            .AddRaw("root", Numbers(new[] { pose.RootPositionM.X, pose.RootPositionM.Y, pose.RootPositionM.Z,
                                                            pose.RootRotation.X, pose.RootRotation.Y, pose.RootRotation.Z, pose.RootRotation.W }))
                            .AddRaw("bones", Strings(names)).AddRaw("rotations", Numbers(rotations))
                            .AddRaw("positions", Strings(positionNames)).AddRaw("position_values", Numbers(positions))
                            .AddRaw("blendshapes", Strings(blendNames)).AddRaw("blend_values", Numbers(blendValues))
                            .AddRaw("confidence", pose.Confidence == null ? "null" : Numbers(pose.Confidence)).Print();
                        return 0;
                    }
                }
                throw new TimeoutException("no MOCAP from another engine within 30 s (sent " + sent + " poses)");
            }
        }
    }
}
