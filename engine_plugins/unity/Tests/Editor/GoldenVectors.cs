// Finds and loads the golden vectors of tests/vectors/ (see its README.md). The folder comes
// from the MACHINIMA_BRIDGE_VECTORS environment variable, or is found by walking up from the
// working directory and from this assembly's folder (the package inside the repository).
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Tests
{
    public sealed class GoldenVector
    {
        public string Name;
        public string JsonPath;
        public MsgPackMap Description;
        public List<byte[]> Parts = new List<byte[]>();

        public override string ToString()
        {
            return Name;
        }
    }

    public static class GoldenVectors
    {
        public const string EnvironmentVariable = "MACHINIMA_BRIDGE_VECTORS";

        /// <summary>The vectors folder, or null when it cannot be found (the reason is in <paramref name="searched"/>).</summary>
        public static string FindFolder(out string searched)
        {
            var tried = new List<string>();
            string fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrEmpty(fromEnv))
            {
                searched = fromEnv + " (from " + EnvironmentVariable + ")";
                return File.Exists(Path.Combine(fromEnv, "README.md")) ? fromEnv : null;
            }
            var starts = new List<string> { Directory.GetCurrentDirectory() };
            string assemblyDir = Path.GetDirectoryName(typeof(GoldenVectors).Assembly.Location);
            if (!string.IsNullOrEmpty(assemblyDir)) starts.Add(assemblyDir);
            foreach (string start in starts)
            {
                for (DirectoryInfo d = new DirectoryInfo(start); d != null; d = d.Parent)
                {
                    string candidate = Path.Combine(Path.Combine(d.FullName, "tests"), "vectors");
                    tried.Add(candidate);
                    if (File.Exists(Path.Combine(candidate, "README.md")) && File.Exists(Path.Combine(candidate, "hello.json")))
                    {
                        searched = string.Join(", ", tried.ToArray());
                        return candidate;
                    }
                }
            }
            searched = string.Join(", ", tried.ToArray());
            return null;
        }

        public static List<string> ValidNames()
        {
            return Names(false);
        }

        public static List<string> InvalidNames()
        {
            return Names(true);
        }

        private static List<string> Names(bool invalid)
        {
            string searched;
            string folder = FindFolder(out searched);
            var names = new List<string>();
            if (folder == null)
            {
                names.Add(MissingMarker);
                return names;
            }
            string dir = invalid ? Path.Combine(folder, "invalid") : folder;
            foreach (string path in Directory.GetFiles(dir, "*.json"))
            {
                names.Add(Path.GetFileNameWithoutExtension(path));
            }
            names.Sort(StringComparer.Ordinal);
            return names;
        }

        /// <summary>The test-case name used when the folder is missing: the test then reports where it looked.</summary>
        public const string MissingMarker = "<vectors folder not found>";

        public static GoldenVector Load(string name, bool invalid)
        {
            string searched;
            string folder = FindFolder(out searched);
            if (folder == null) throw new DirectoryNotFoundException("golden vectors not found; looked in: " + searched);
            string dir = invalid ? Path.Combine(folder, "invalid") : folder;
            string jsonPath = Path.Combine(dir, name + ".json");
            var vector = new GoldenVector
            {
                Name = name,
                JsonPath = jsonPath,
                Description = JsonValueReader.Parse(File.ReadAllText(jsonPath, Encoding.UTF8)).AsMap,
            };
            foreach (MsgPackValue part in vector.Description["parts"].AsArray)
            {
                vector.Parts.Add(File.ReadAllBytes(Path.Combine(dir, part.AsString)));
            }
            return vector;
        }
    }
}
