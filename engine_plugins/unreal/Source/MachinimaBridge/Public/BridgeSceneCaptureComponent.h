// Streams a USceneCaptureComponent2D to the bridge server as FRAMEs, without blocking the game
// thread.
//
// Each capture tick: the game thread asks the scene capture to render into this component's
// render target and enqueues a render command that copies the target into a GPU readback
// buffer (FRHIGPUTextureReadback).  A render command polls the readbacks on later frames; a
// finished one is copied out once (row pitch kept: the protocol allows padded rows) and handed
// to the bridge's worker thread, which sends it without another copy.  Nothing waits on the
// GPU: when all readback slots are busy the capture is skipped and counted.
#pragma once

#include "CoreMinimal.h"
#include "Components/ActorComponent.h"
#include "MachinimaBridgeTypes.h"

#include "BridgeSceneCaptureComponent.generated.h"

class FBridgeCaptureState;
class UBridgeConnectionSubsystem;
class USceneCaptureComponent2D;
class UTextureRenderTarget2D;

UCLASS(ClassGroup = (MachinimaBridge), meta = (BlueprintSpawnableComponent), HideCategories = (Activation, Cooking, Collision))
class MACHINIMABRIDGE_API UBridgeSceneCaptureComponent : public UActorComponent
{
	GENERATED_BODY()

public:
	UBridgeSceneCaptureComponent();

	/** The capture rendering the colour picture; the first one on the owner when left empty. Its render target is made here. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	TObjectPtr<USceneCaptureComponent2D> ColorCapture;

	/** Optional second capture for the depth plane (Stream.bSendDepth): set to Scene Depth and attached to ColorCapture here. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	TObjectPtr<USceneCaptureComponent2D> DepthCapture;

	/** The stream this component declares (resolution, rate, pipeline). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	FBridgeStreamSettings Stream;

	/** Sends the camera pose and intrinsics with every FRAME (pipelines that reproject use them). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	bool bSendCamera = true;

	/** Far clip distance reported in the camera map. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (Units = "cm", ClampMin = "1"))
	float FarClipCm = 100000.0f;

	/** Scene depth at or beyond this is sky: sent as +Infinity ("no surface"). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (Units = "cm", ClampMin = "1"))
	float SkyDepthCm = 1.0e6f;

	/** GPU readbacks that may be in flight; more hides GPU latency, each holds one frame of staging memory. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (ClampMin = "1", ClampMax = "8"))
	int32 MaxReadbacksInFlight = 3;

	/** Capture even while not connected (the frames are dropped by the worker). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	bool bCaptureWhenDisconnected = false;

	UPROPERTY(VisibleInstanceOnly, BlueprintReadOnly, Transient, Category = "Machinima Bridge")
	int64 FramesCaptured = 0;

	/** Captures skipped because every readback slot was still waiting for the GPU. */
	UPROPERTY(VisibleInstanceOnly, BlueprintReadOnly, Transient, Category = "Machinima Bridge")
	int64 FramesSkippedGpuBusy = 0;

	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge")
	void SetCapturing(bool bEnable) { bCapturing = bEnable; }

	UFUNCTION(BlueprintPure, Category = "Machinima Bridge")
	UTextureRenderTarget2D* GetColorTarget() const { return ColorTarget; }

	virtual void BeginPlay() override;
	virtual void EndPlay(const EEndPlayReason::Type EndPlayReason) override;
	virtual void TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction) override;

private:
	bool SetUpTargets();
	void CaptureFrame();

	UPROPERTY(Transient)
	TObjectPtr<UTextureRenderTarget2D> ColorTarget;

	UPROPERTY(Transient)
	TObjectPtr<UTextureRenderTarget2D> DepthTarget;

	TWeakObjectPtr<UBridgeConnectionSubsystem> Subsystem;
	/** Readback slots and their frames; owned by the render thread once created (released there too). */
	TSharedPtr<FBridgeCaptureState, ESPMode::ThreadSafe> CaptureState;
	double SecondsSinceCapture = 0.0;
	uint64 NextIndex = 1;
	bool bCapturing = true;
	bool bRegisteredStream = false;
};
