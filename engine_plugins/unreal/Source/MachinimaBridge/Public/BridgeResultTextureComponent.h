// Shows a stream's RESULT frames in a UTexture2D: bind it to a material parameter, a UMG Image
// (SetBrushFromTexture in OnTextureCreated) or a fullscreen post-process material.
//
// Each tick takes the newest RESULT of the stream (older ones were already dropped: latest
// wins) and uploads it with UpdateTextureRegions, which copies on the render thread straight
// from the received ZeroMQ buffer; the game thread does no pixel work.
#pragma once

#include "CoreMinimal.h"
#include "Components/ActorComponent.h"
#include "PixelFormat.h"

#include "BridgeResultTextureComponent.generated.h"

class UBridgeConnectionSubsystem;
class UMaterialInstanceDynamic;
class UTexture2D;

DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FOnBridgeResultTextureCreated, UTexture2D*, Texture);

UCLASS(ClassGroup = (MachinimaBridge), meta = (BlueprintSpawnableComponent), HideCategories = (Activation, Cooking, Collision))
class MACHINIMABRIDGE_API UBridgeResultTextureComponent : public UActorComponent
{
	GENERATED_BODY()

public:
	UBridgeResultTextureComponent();

	/** The stream whose RESULTs to show (a UBridgeSceneCaptureComponent's Stream.StreamId). */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (ClampMin = "0", ClampMax = "65535"))
	int32 StreamId = 0;

	/** Optional: this material instance's texture parameter is pointed at the result texture. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	TObjectPtr<UMaterialInstanceDynamic> TargetMaterial;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	FName TextureParameterName = TEXT("BridgeResult");

	/** Fires when the texture is (re)created: first RESULT, or a new size or format. */
	UPROPERTY(BlueprintAssignable, Category = "Machinima Bridge")
	FOnBridgeResultTextureCreated OnTextureCreated;

	UPROPERTY(VisibleInstanceOnly, BlueprintReadOnly, Transient, Category = "Machinima Bridge")
	int64 LastIndex = -1;

	UPROPERTY(VisibleInstanceOnly, BlueprintReadOnly, Transient, Category = "Machinima Bridge", meta = (Units = "ms"))
	float LastRoundTripMs = 0.0f;

	UPROPERTY(VisibleInstanceOnly, BlueprintReadOnly, Transient, Category = "Machinima Bridge")
	int64 ResultsShown = 0;

	/** Frames the server dropped for this stream (latest frame wins), from RESULT.dropped. */
	UPROPERTY(VisibleInstanceOnly, BlueprintReadOnly, Transient, Category = "Machinima Bridge")
	int64 ServerDropped = 0;

	UFUNCTION(BlueprintPure, Category = "Machinima Bridge")
	UTexture2D* GetResultTexture() const { return ResultTexture; }

	virtual void BeginPlay() override;
	virtual void TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction) override;

private:
	void EnsureTexture(int32 Width, int32 Height, EPixelFormat Format);

	UPROPERTY(Transient)
	TObjectPtr<UTexture2D> ResultTexture;

	TWeakObjectPtr<UBridgeConnectionSubsystem> Subsystem;
};
