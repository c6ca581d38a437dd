// Project settings of the bridge.
#include "MachinimaBridgeSettings.h"

UMachinimaBridgeSettings::UMachinimaBridgeSettings()
{
	CategoryName = TEXT("Plugins");
	SectionName = TEXT("Machinima Bridge");
}
