// Sends what the game plays as AUDIO beside a stream's FRAMEs (docs/protocol.md 6.14), for the
// server to record in sync with the pictures while a take is recording.
//
// A submix buffer listener (on the main output submix, or the submix you choose) receives every
// buffer the audio renderer mixes, on the audio render thread.  There it is remixed to the
// declared channels, converted to s16 and cut into fixed-length chunks stamped on the monotonic
// clock the FRAMEs use (Protocol/AudioChunker); finished chunks wait in a bounded lock-free queue
// that this component empties on the game thread into the bridge's worker, which sends them.
// Nothing blocks the audio thread, the game thread or the render thread.
//
// On BeginPlay the component declares the stream's sound (the audio device's sample rate and the
// channels set here) with UBridgeConnectionSubsystem::SetStreamAudio; the scene capture component
// of the same stream declares the pictures, in either order.
#pragma once

#include "CoreMinimal.h"
#include "Components/ActorComponent.h"
#include "MachinimaBridgeTypes.h"

#include "BridgeAudioCaptureComponent.generated.h"

class FBridgeSubmixTap;
class UBridgeConnectionSubsystem;
class USoundSubmix;

UCLASS(ClassGroup = (MachinimaBridge), meta = (BlueprintSpawnableComponent), HideCategories = (Activation, Cooking, Collision))
class MACHINIMABRIDGE_API UBridgeAudioCaptureComponent : public UActorComponent
{
	GENERATED_BODY()

public:
	UBridgeAudioCaptureComponent();

	/** The picture stream this sound belongs to (the Stream Id of its Bridge Scene Capture). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (ClampMin = "0", ClampMax = "65535"))
	int32 StreamId = 0;

	/** Channels sent (remixed from what the submix renders): 1 mono, 2 stereo, up to 8. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (ClampMin = "1", ClampMax = "8"))
	int32 Channels = 2;

	/** Length of one AUDIO chunk. Shorter: less delay; longer: fewer messages. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (ClampMin = "10", ClampMax = "100", Units = "ms"))
	int32 ChunkMs = 20;

	/** Added to every chunk's capture time, to line the sound up with the pictures (e.g. the output latency). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (Units = "ms"))
	float OffsetMs = 0.0f;

	/** The submix to listen to; empty: the main output (everything the player hears). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	TObjectPtr<USoundSubmix> Submix;

	/** Chunks waiting for the game thread at most; beyond that new ones are dropped (counted). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (ClampMin = "4", ClampMax = "1024"))
	int32 MaxQueuedChunks = 64;

	UPROPERTY(VisibleInstanceOnly, BlueprintReadOnly, Transient, Category = "Machinima Bridge")
	FBridgeAudioFormat DeclaredFormat;

	UPROPERTY(VisibleInstanceOnly, BlueprintReadOnly, Transient, Category = "Machinima Bridge")
	int64 ChunksSubmitted = 0;

	/** Chunks dropped here or by the worker (queue full, not connected, a buffer at another sample rate). */
	UPROPERTY(VisibleInstanceOnly, BlueprintReadOnly, Transient, Category = "Machinima Bridge")
	int64 ChunksDropped = 0;

	virtual void BeginPlay() override;
	virtual void EndPlay(const EEndPlayReason::Type EndPlayReason) override;
	virtual void TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction) override;

private:
	/** Declares the audio device's format for the stream and registers the submix listener; false when it cannot. */
	bool StartListening();
	void StopListening();

	TWeakObjectPtr<UBridgeConnectionSubsystem> Subsystem;
	TSharedPtr<FBridgeSubmixTap, ESPMode::ThreadSafe> Tap;
	/** Before UE 5.4 the mixer holds a raw pointer until it processes the unregistration: keep old taps alive. */
	TArray<TSharedPtr<FBridgeSubmixTap, ESPMode::ThreadSafe>> RetiredTaps;
	TWeakObjectPtr<USoundSubmix> ListenedSubmix;
	bool bDeclared = false;
	FString LastProblem;
};
