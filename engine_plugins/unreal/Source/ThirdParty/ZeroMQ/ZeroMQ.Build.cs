// ZeroMQ for the MachinimaBridge plugin: libzmq (static) + cppzmq (headers), dropped in per
// platform as README.md in this folder explains.  Nothing here is committed as a binary; a missing
// file stops the build with a message naming it.

using System.IO;
using UnrealBuildTool;

public class ZeroMQ : ModuleRules
{
	public ZeroMQ(ReadOnlyTargetRules Target) : base(Target)
	{
		Type = ModuleType.External;

		string IncludeDir = Path.Combine(ModuleDirectory, "include");
		string Readme = Path.Combine(ModuleDirectory, "README.md");
		foreach (string Header in new string[] { "zmq.h", "zmq.hpp" })
		{
			if (!File.Exists(Path.Combine(IncludeDir, Header)))
			{
				throw new BuildException("ZeroMQ: {0} is missing; put the libzmq 4.3.5 and cppzmq 4.10.0 headers there (see {1})",
					Path.Combine(IncludeDir, Header), Readme);
			}
		}
		PublicSystemIncludePaths.Add(IncludeDir);
		PublicDefinitions.Add("ZMQ_STATIC");

		string Library;
		if (Target.Platform == UnrealTargetPlatform.Win64)
		{
			Library = Path.Combine(ModuleDirectory, "lib", "Win64", "libzmq.lib");
			PublicSystemLibraries.AddRange(new string[] { "ws2_32.lib", "iphlpapi.lib", "advapi32.lib" });
		}
		else if (Target.Platform == UnrealTargetPlatform.Linux)
		{
			Library = Path.Combine(ModuleDirectory, "lib", "Linux", "x86_64-unknown-linux-gnu", "libzmq.a");
		}
		else if (Target.Platform == UnrealTargetPlatform.Mac)
		{
			Library = Path.Combine(ModuleDirectory, "lib", "Mac", "libzmq.a");
		}
		else
		{
			throw new BuildException("ZeroMQ: platform {0} is not supported by the MachinimaBridge plugin (Win64, Linux, Mac)",
				Target.Platform.ToString());
		}

		if (!File.Exists(Library))
		{
			throw new BuildException("ZeroMQ: {0} is missing; build libzmq 4.3.5 as a static library for {1} and put it there (see {2})",
				Library, Target.Platform.ToString(), Readme);
		}
		PublicAdditionalLibraries.Add(Library);
	}
}
