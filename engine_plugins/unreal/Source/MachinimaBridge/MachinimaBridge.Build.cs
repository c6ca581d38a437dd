// Build rules of the MachinimaBridge runtime module.
//
// Protocol/ and Transport/ are plain C++17 (no Unreal types) shared with the g++ tests in
// ../../Tests; the U-classes wrap them.  ZeroMQ (libzmq + cppzmq) comes from the plugin's
// ThirdParty module (Source/ThirdParty/ZeroMQ, see its README for the per-platform libraries).

using System.IO;
using UnrealBuildTool;

public class MachinimaBridge : ModuleRules
{
	public MachinimaBridge(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;
		CppStandard = CppStandardVersion.Cpp17;

		// cppzmq reports errors with exceptions; Transport/ catches every one of them.
		bEnableExceptions = true;

		// Private/Protocol/FieldReader.h and friends are included as "Protocol/...".
		PrivateIncludePaths.Add(Path.Combine(ModuleDirectory, "Private"));

		// Lets Transport/ZmqInclude.h wrap <zmq.hpp> in Unreal's Windows header guards.
		PrivateDefinitions.Add("MBRIDGE_IN_UNREAL=1");

		PublicDependencyModuleNames.AddRange(new string[]
		{
			"Core",
			"CoreUObject",
			"Engine",
			"DeveloperSettings",
			"LiveLinkInterface",
		});

		PrivateDependencyModuleNames.AddRange(new string[]
		{
			"Projects",
			"RenderCore",
			"RHI",
			"ZeroMQ",
		});
	}
}
