// The MachinimaBridge runtime module.
#include "MachinimaBridgeModule.h"

#include "Modules/ModuleManager.h"
#include "Transport/ZmqInclude.h"

DEFINE_LOG_CATEGORY(LogMachinimaBridge);

void FMachinimaBridgeModule::StartupModule()
{
	int Major = 0;
	int Minor = 0;
	int Patch = 0;
	zmq_version(&Major, &Minor, &Patch);
	UE_LOG(LogMachinimaBridge, Log, TEXT("MachinimaBridge loaded (libzmq %d.%d.%d, wire protocol v1)"), Major, Minor, Patch);
}

void FMachinimaBridgeModule::ShutdownModule()
{
	// Connections belong to game instances (UBridgeConnectionSubsystem); they are closed there.
}

IMPLEMENT_MODULE(FMachinimaBridgeModule, MachinimaBridge)
