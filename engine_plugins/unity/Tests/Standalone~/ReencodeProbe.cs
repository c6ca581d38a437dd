// Parse every message in a folder (NAME.0.bin, NAME.1.bin, ...) with the C# codec and write it
// back re-encoded (NAME.0.out, ...); an AUDIO also reports the samples it holds. The Python test builds messages with every documented field
// set, so any field the C# implementation drops or changes shows up as a byte difference.
using System;
using System.Collections.Generic;
using System.IO;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Standalone
{
    public static class ReencodeProbe
    {
        /// <summary>A MOCAP's pose decoded and encoded again (NAME.pose.K.out), or the code it was refused with.</summary>
        private static void AddPose(string folder, string name, Mocap mocap, JsonLine line)
        {
            try
            {
                List<byte[]> pose = MessageCodec.Serialize(MocapPoseCodec.Encode(MocapPoseCodec.Decode(mocap)));
                for (int i = 0; i < pose.Count; i++) File.WriteAllBytes(Path.Combine(folder, name + ".pose." + i + ".out"), pose[i]);
                line.Add("pose", "ok");
            }
            catch (ProtocolException e)
            {
                line.Add("pose", e.Code.ToString()).Add("pose_message", e.Detail);
            }
        }

/// <summary>An AUDIO's samples as C# reads them: their count and sum, and every one for short chunks.</summary>
        private static void AddSamples(Audio audio, JsonLine line)
        {
            short[] samples = audio.ToInterleaved();
            long sum = 0;
            foreach (short s in samples) sum += s;
            line.Add("sample_count", samples.Length).Add("sample_sum", sum);
            if (samples.Length <= 1024)
            {
                var list = new List<long>(samples.Length);
                foreach (short s in samples) list.Add(s);
                line.Add("samples_s16", list);
            }
        }

                public static int Run(string folder)
        {
            var names = new SortedSet<string>(StringComparer.Ordinal);
            foreach (string path in Directory.GetFiles(folder, "*.0.bin"))
            {
                string file = Path.GetFileName(path);
                names.Add(file.Substring(0, file.Length - ".0.bin".Length));
            }
            foreach (string name in names)
            {
                var parts = new List<byte[]>();
                for (int i = 0; File.Exists(Path.Combine(folder, name + "." + i + ".bin")); i++)
                {
                    parts.Add(File.ReadAllBytes(Path.Combine(folder, name + "." + i + ".bin")));
                }
                try
                {
                    BridgeMessage message = MessageCodec.Parse(parts);
                    List<byte[]> again = MessageCodec.Serialize(message);
                    for (int i = 0; i < again.Count; i++) File.WriteAllBytes(Path.Combine(folder, name + "." + i + ".out"), again[i]);
                    var line = new JsonLine("reencoded").Add("name", name).Add("kind", message.Kind).Add("parts", again.Count);
                    var mocap = message as Mocap;
                    if (mocap != null) AddPose(folder, name, mocap, line);
                    var audio = message as Audio;
                    if (audio != null) AddSamples(audio, line);
                    line.Print();
                }
                catch (ProtocolException e)
                {
                    new JsonLine("refused").Add("name", name).Add("error_code", (long)e.Code)
                        .Add("error_name", e.Code.ToString()).Add("message", e.Detail).Print();
                }
            }
            return 0;
        }
    }
}
