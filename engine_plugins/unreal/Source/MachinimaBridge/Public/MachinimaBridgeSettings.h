// Project settings of the bridge (Project Settings > Plugins > Machinima Bridge), saved in
// Config/DefaultGame.ini.
#pragma once

#include "CoreMinimal.h"
#include "Engine/DeveloperSettings.h"

#include "MachinimaBridgeSettings.generated.h"

UCLASS(Config = Game, DefaultConfig, meta = (DisplayName = "Machinima Bridge"))
class MACHINIMABRIDGE_API UMachinimaBridgeSettings : public UDeveloperSettings
{
	GENERATED_BODY()

public:
	UMachinimaBridgeSettings();

	/** ZeroMQ endpoint of the bridge server: tcp://HOST:PORT, or ipc://PATH where supported. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Connection")
	FString Endpoint = TEXT("tcp://127.0.0.1:5555");

	/** Connect when a game instance starts (otherwise call Connect on the subsystem). */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Connection")
	bool bConnectOnStart = true;

	/** Session name sent in HELLO; engines of one session share mocap performers. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Connection")
	FString SessionName = TEXT("default");

	/** Heartbeat interval proposed in HELLO; the server's WELCOME value is the one used. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Connection", meta = (ClampMin = "10", ClampMax = "600000", Units = "ms"))
	int32 HeartbeatMs = 1000;

	/** First reconnect delay; doubles after each failed attempt up to MaxReconnectDelayMs. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Connection", meta = (ClampMin = "50", Units = "ms"))
	int32 ReconnectDelayMs = 1000;

	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Connection", meta = (ClampMin = "100", Units = "ms"))
	int32 MaxReconnectDelayMs = 10000;

	/** How long to wait for WELCOME after HELLO (pipelines may load models first). */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Connection", meta = (ClampMin = "1000", Units = "ms"))
	int32 WelcomeTimeoutMs = 30000;

	/** FRAMEs queued in ZeroMQ before new ones are skipped (keep small: latest frame wins). */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Connection", meta = (ClampMin = "1", ClampMax = "64"))
	int32 SendQueueFrames = 4;
};
