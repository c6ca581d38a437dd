// Shows a stream's RESULT frames in a UTexture2D (see the header).
#include "BridgeResultTextureComponent.h"

#include "BridgeConnectionSubsystem.h"
#include "BridgeResultFrame.h"
#include "Engine/Texture2D.h"
#include "MachinimaBridgeModule.h"
#include "Materials/MaterialInstanceDynamic.h"
#include "RenderUtils.h"

UBridgeResultTextureComponent::UBridgeResultTextureComponent()
{
	PrimaryComponentTick.bCanEverTick = true;
	PrimaryComponentTick.TickGroup = TG_PrePhysics; // upload early so this frame's rendering shows it
}

void UBridgeResultTextureComponent::BeginPlay()
{
	Super::BeginPlay();
	Subsystem = UBridgeConnectionSubsystem::Get(this);
	if (!Subsystem.IsValid())
	{
		UE_LOG(LogMachinimaBridge, Error, TEXT("%s: no game instance, so no bridge connection; nothing to show"), *GetPathName());
		SetComponentTickEnabled(false);
	}
}

void UBridgeResultTextureComponent::EnsureTexture(int32 Width, int32 Height, EPixelFormat Format)
{
	if (ResultTexture != nullptr && ResultTexture->GetSizeX() == Width && ResultTexture->GetSizeY() == Height &&
		ResultTexture->GetPixelFormat() == Format)
	{
		return;
	}
	ResultTexture = UTexture2D::CreateTransient(Width, Height, Format, MakeUniqueObjectName(this, UTexture2D::StaticClass(), TEXT("BridgeResult")));
	ResultTexture->SRGB = true; // the wire carries sRGB-encoded 8-bit colour
	ResultTexture->Filter = TF_Bilinear;
	ResultTexture->AddressX = TA_Clamp;
	ResultTexture->AddressY = TA_Clamp;
	ResultTexture->UpdateResource();
	if (TargetMaterial != nullptr)
	{
		TargetMaterial->SetTextureParameterValue(TextureParameterName, ResultTexture);
	}
	OnTextureCreated.Broadcast(ResultTexture);
}

void UBridgeResultTextureComponent::TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction)
{
	Super::TickComponent(DeltaTime, TickType, ThisTickFunction);
	FBridgeResultFramePtr Frame;
	if (!Subsystem.IsValid() || !Subsystem->TakeLatestResult(StreamId, Frame) || !Frame.IsValid())
	{
		return;
	}
	EnsureTexture(Frame->Width, Frame->Height, Frame->PixelFormat);
	LastIndex = Frame->Index;
	LastRoundTripMs = Frame->RoundTripMs;
	ServerDropped += Frame->Dropped;
	++ResultsShown;

	// The render thread copies the rows (honouring the RESULT's row pitch) and then runs the
	// cleanup, which lets the received buffer go: no copy on the game thread.
	FUpdateTextureRegion2D* Region = new FUpdateTextureRegion2D(0, 0, 0, 0, static_cast<uint32>(Frame->Width), static_cast<uint32>(Frame->Height));
	ResultTexture->UpdateTextureRegions(0, 1, Region, static_cast<uint32>(Frame->RowPitchBytes), 4, const_cast<uint8*>(Frame->Pixels),
		[Frame](uint8* /*SrcData*/, const FUpdateTextureRegion2D* Regions) { delete Regions; });
}
