// The MachinimaBridge runtime module: log category and module object.
#pragma once

#include "CoreMinimal.h"
#include "Modules/ModuleInterface.h"

MACHINIMABRIDGE_API DECLARE_LOG_CATEGORY_EXTERN(LogMachinimaBridge, Log, All);

class FMachinimaBridgeModule : public IModuleInterface
{
public:
	virtual void StartupModule() override;
	virtual void ShutdownModule() override;
};
