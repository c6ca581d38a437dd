// Streams a scene capture to the bridge without blocking the game thread (see the header).
#include "BridgeSceneCaptureComponent.h"

#include "BridgeConnectionSubsystem.h"
#include "BridgeUnrealConversion.h"
#include "BridgeWorker.h"
#include "Components/SceneCaptureComponent2D.h"
#include "Engine/TextureRenderTarget2D.h"
#include "GameFramework/Actor.h"
#include "MachinimaBridgeModule.h"
#include "Misc/App.h"
#include "Protocol/Messages.h"
#include "Protocol/PlanePixels.h"
#include "Protocol/SpaceConversion.h"
#include "RHIGPUReadback.h"
#include "RenderingThread.h"
#include "TextureResource.h"
#include "Transport/BridgeSocket.h"

#include <atomic>
#include <memory>
#include <vector>

using namespace mbridge;

/** Render-thread side of one capture component: readback slots and what each one will send. */
class FBridgeCaptureState
{
public:
	struct FSlot
	{
		TUniquePtr<FRHIGPUTextureReadback> Color;
		TUniquePtr<FRHIGPUTextureReadback> Depth;
		protocol::Frame Meta; // stream, index, t_capture_ns, timecode, camera; planes added when read
		protocol::PixelFormat ColorFormat = protocol::PixelFormat::BGRA8;
		bool bWithDepth = false;
		bool bPending = false;
	};

	FBridgeCaptureState(int32 InMaxSlots, uint32 InWidth, uint32 InHeight, float InSkyDepthCm)
		: MaxSlots(InMaxSlots), Width(InWidth), Height(InHeight), SkyDepthCm(InSkyDepthCm)
	{
	}

	/** Game thread reads it to decide whether to capture; the render thread lowers it. */
	std::atomic<int32> InFlight{0};

	void Enqueue_RenderThread(FRHICommandListImmediate& RHICmdList, FTextureRenderTargetResource* ColorResource,
		FTextureRenderTargetResource* DepthResource, protocol::Frame&& Meta)
	{
		FRHITexture* ColorTexture = ColorResource ? ColorResource->GetRenderTargetTexture() : nullptr;
		protocol::PixelFormat Format = protocol::PixelFormat::BGRA8;
		if (ColorTexture == nullptr || !WireFormat(ColorTexture->GetFormat(), Format))
		{
			if (!bFormatErrorLogged)
			{
				UE_LOG(LogMachinimaBridge, Error, TEXT("capture target is not B8G8R8A8/R8G8B8A8; frames are not sent"));
				bFormatErrorLogged = true;
			}
			--InFlight;
			return;
		}
		FSlot* Slot = FreeSlot();
		if (Slot == nullptr)
		{
			--InFlight; // the game thread's count said a slot was free; never wait for one here
			return;
		}
		if (!Slot->Color.IsValid())
		{
			Slot->Color = MakeUnique<FRHIGPUTextureReadback>(TEXT("MachinimaBridgeColor"));
		}
		Slot->Color->EnqueueCopy(RHICmdList, ColorTexture);
		Slot->bWithDepth = false;
		FRHITexture* DepthTexture = DepthResource ? DepthResource->GetRenderTargetTexture() : nullptr;
		if (DepthTexture != nullptr && DepthTexture->GetFormat() == PF_R32_FLOAT)
		{
			if (!Slot->Depth.IsValid())
			{
				Slot->Depth = MakeUnique<FRHIGPUTextureReadback>(TEXT("MachinimaBridgeDepth"));
			}
			Slot->Depth->EnqueueCopy(RHICmdList, DepthTexture);
			Slot->bWithDepth = true;
		}
		Slot->Meta = MoveTemp(Meta);
		Slot->ColorFormat = Format;
		Slot->bPending = true;
	}

	/** Hands every finished readback to `Submit` (frame, keep-alive); never blocks on the GPU. */
	template <typename SubmitFn>
	void Poll_RenderThread(SubmitFn&& Submit)
	{
		for (FSlot& Slot : Slots)
		{
			if (!Slot.bPending || !Slot.Color->IsReady() || (Slot.bWithDepth && !Slot.Depth->IsReady()))
			{
				continue;
			}
			ReadOut(Slot, Submit);
			Slot.bPending = false;
			--InFlight;
		}
	}

private:
	static bool WireFormat(EPixelFormat Format, protocol::PixelFormat& Out)
	{
		if (Format == PF_B8G8R8A8)
		{
			Out = protocol::PixelFormat::BGRA8;
			return true;
		}
		if (Format == PF_R8G8B8A8)
		{
			Out = protocol::PixelFormat::RGBA8;
			return true;
		}
		return false;
	}

	FSlot* FreeSlot()
	{
		for (FSlot& Slot : Slots)
		{
			if (!Slot.bPending)
			{
				return &Slot;
			}
		}
		if (Slots.Num() < MaxSlots)
		{
			return &Slots.AddDefaulted_GetRef();
		}
		return nullptr;
	}

	template <typename SubmitFn>
	void ReadOut(FSlot& Slot, SubmitFn& Submit)
	{
		int32 ColorPitchPx = 0;
		const uint8* ColorData = static_cast<const uint8*>(Slot.Color->Lock(ColorPitchPx));
		if (ColorData == nullptr || ColorPitchPx < static_cast<int32>(Width))
		{
			Slot.Color->Unlock();
			return;
		}
		// One buffer holds every plane; the worker sends straight from it (no further copy).
		const uint64 ColorStride = static_cast<uint64>(ColorPitchPx) * 4;
		const uint64 ColorBytes = ColorStride * Height;
		const uint64 DepthBytes = Slot.bWithDepth ? static_cast<uint64>(Width) * Height * sizeof(float) : 0;
		auto Buffer = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(ColorBytes + DepthBytes));
		// Rows keep the readback pitch: the protocol allows padded rows (stride), so one memcpy.
		FMemory::Memcpy(Buffer->data(), ColorData, ColorBytes);
		Slot.Color->Unlock();

		protocol::Frame Frame = MoveTemp(Slot.Meta);
		protocol::PlaneDescriptor ColorPlane = protocol::PlaneDescriptor::packed(protocol::PlaneKind::Color, Slot.ColorFormat, Width, Height);
		ColorPlane.stride = ColorStride;
		Frame.planes.push_back(protocol::Plane{ColorPlane, protocol::ByteView(Buffer->data(), static_cast<size_t>(ColorBytes))});

		if (Slot.bWithDepth)
		{
			int32 DepthPitchPx = 0;
			const float* DepthData = static_cast<const float*>(Slot.Depth->Lock(DepthPitchPx));
			if (DepthData != nullptr && DepthPitchPx >= static_cast<int32>(Width))
			{
				float* DepthOut = reinterpret_cast<float*>(Buffer->data() + ColorBytes);
				// Unreal scene depth is centimetres along the view axis; the wire wants metres.
				protocol::depthCentimetresToMetres(DepthData, static_cast<size_t>(DepthPitchPx), DepthOut, Width, Height, SkyDepthCm);
				Frame.planes.push_back(protocol::Plane{protocol::PlaneDescriptor::packed(protocol::PlaneKind::Depth, protocol::PixelFormat::F32, Width, Height),
					protocol::ByteView(Buffer->data() + ColorBytes, static_cast<size_t>(DepthBytes))});
			}
			Slot.Depth->Unlock();
		}
		Submit(MoveTemp(Frame), std::shared_ptr<const void>(Buffer));
	}

	TArray<FSlot> Slots;
	int32 MaxSlots;
	uint32 Width;
	uint32 Height;
	float SkyDepthCm;
	bool bFormatErrorLogged = false;
};

UBridgeSceneCaptureComponent::UBridgeSceneCaptureComponent()
{
	PrimaryComponentTick.bCanEverTick = true;
	PrimaryComponentTick.TickGroup = TG_PostUpdateWork; // after cameras moved this frame
}

bool UBridgeSceneCaptureComponent::SetUpTargets()
{
	if (ColorCapture == nullptr && GetOwner() != nullptr)
	{
		ColorCapture = GetOwner()->FindComponentByClass<USceneCaptureComponent2D>();
	}
	if (ColorCapture == nullptr)
	{
		UE_LOG(LogMachinimaBridge, Error, TEXT("%s: no SceneCaptureComponent2D to stream (set ColorCapture)"), *GetPathName());
		return false;
	}
	ColorTarget = NewObject<UTextureRenderTarget2D>(this, TEXT("MachinimaBridgeColorTarget"));
	ColorTarget->ClearColor = FLinearColor::Black;
	// 8-bit, sRGB-encoded values, as the wire's colour planes are.
	ColorTarget->InitCustomFormat(static_cast<uint32>(Stream.Width), static_cast<uint32>(Stream.Height),
		Stream.ColorFormat == EBridgeColorFormat::RGBA8 ? PF_R8G8B8A8 : PF_B8G8R8A8, /*bInForceLinearGamma=*/false);
	ColorTarget->UpdateResourceImmediate(true);
	ColorCapture->TextureTarget = ColorTarget;
	ColorCapture->CaptureSource = ESceneCaptureSource::SCS_FinalColorLDR;
	ColorCapture->bCaptureEveryFrame = false;
	ColorCapture->bCaptureOnMovement = false;

	if (Stream.bSendDepth)
	{
		if (DepthCapture == nullptr)
		{
			UE_LOG(LogMachinimaBridge, Warning, TEXT("%s: Stream.bSendDepth is set but DepthCapture is empty; sending colour only"), *GetPathName());
		}
		else
		{
			DepthTarget = NewObject<UTextureRenderTarget2D>(this, TEXT("MachinimaBridgeDepthTarget"));
			DepthTarget->InitCustomFormat(static_cast<uint32>(Stream.Width), static_cast<uint32>(Stream.Height), PF_R32_FLOAT, /*bInForceLinearGamma=*/true);
			DepthTarget->UpdateResourceImmediate(true);
			DepthCapture->TextureTarget = DepthTarget;
			DepthCapture->CaptureSource = ESceneCaptureSource::SCS_SceneDepth;
			DepthCapture->bCaptureEveryFrame = false;
			DepthCapture->bCaptureOnMovement = false;
			DepthCapture->FOVAngle = ColorCapture->FOVAngle;
			DepthCapture->AttachToComponent(ColorCapture, FAttachmentTransformRules::SnapToTargetNotIncludingScale);
		}
	}
	return true;
}

void UBridgeSceneCaptureComponent::BeginPlay()
{
	Super::BeginPlay();
	Subsystem = UBridgeConnectionSubsystem::Get(this);
	if (!Subsystem.IsValid())
	{
		UE_LOG(LogMachinimaBridge, Error, TEXT("%s: no game instance, so no bridge connection; not streaming"), *GetPathName());
		SetComponentTickEnabled(false);
		return;
	}
	if (!SetUpTargets())
	{
		SetComponentTickEnabled(false);
		return;
	}
	CaptureState = MakeShared<FBridgeCaptureState, ESPMode::ThreadSafe>(FMath::Clamp(MaxReadbacksInFlight, 1, 8),
		static_cast<uint32>(Stream.Width), static_cast<uint32>(Stream.Height), SkyDepthCm);
	bRegisteredStream = Subsystem->RegisterStream(Stream);
}

void UBridgeSceneCaptureComponent::EndPlay(const EEndPlayReason::Type EndPlayReason)
{
	if (bRegisteredStream && Subsystem.IsValid())
	{
		Subsystem->UnregisterStream(Stream.StreamId);
	}
	bRegisteredStream = false;
	if (CaptureState.IsValid())
	{
		// The readbacks hold RHI resources: let the last reference go on the render thread, after
		// every command already queued for them.
		ENQUEUE_RENDER_COMMAND(MachinimaBridgeReleaseCapture)(
			[State = MoveTemp(CaptureState)](FRHICommandListImmediate&) mutable { State.Reset(); });
	}
	Super::EndPlay(EndPlayReason);
}

void UBridgeSceneCaptureComponent::TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction)
{
	Super::TickComponent(DeltaTime, TickType, ThisTickFunction);
	if (!CaptureState.IsValid() || !Subsystem.IsValid())
	{
		return;
	}
	// Collect finished readbacks (render thread) and pass them to the worker thread.
	TSharedPtr<FBridgeWorker, ESPMode::ThreadSafe> Worker = Subsystem->GetWorker();
	ENQUEUE_RENDER_COMMAND(MachinimaBridgePollReadbacks)(
		[State = CaptureState, Worker](FRHICommandListImmediate&)
		{
			State->Poll_RenderThread([&Worker](protocol::Frame&& Frame, std::shared_ptr<const void> KeepAlive)
			{
				if (Worker.IsValid())
				{
					Worker->SubmitFrame(MoveTemp(Frame), MoveTemp(KeepAlive));
				}
			});
		});

	const double Interval = 1.0 / FMath::Clamp(static_cast<double>(Stream.FramesPerSecond), 0.1, 1000.0);
	SecondsSinceCapture += DeltaTime;
	if (!bCapturing || SecondsSinceCapture < Interval)
	{
		return;
	}
	SecondsSinceCapture = SecondsSinceCapture > 2.0 * Interval ? 0.0 : SecondsSinceCapture - Interval;
	if (!bCaptureWhenDisconnected && Subsystem->GetConnectionState() != EBridgeConnectionState::Connected)
	{
		return;
	}
	CaptureFrame();
}

void UBridgeSceneCaptureComponent::CaptureFrame()
{
	if (CaptureState->InFlight.load() >= FMath::Clamp(MaxReadbacksInFlight, 1, 8))
	{
		++FramesSkippedGpuBusy;
		return;
	}
	protocol::Frame Meta;
	Meta.stream = static_cast<uint16_t>(Stream.StreamId);
	Meta.index = NextIndex++;
	Meta.t_capture_ns = static_cast<uint64_t>(transport::monotonicNowNs());
	if (FApp::GetCurrentFrameTime().IsSet())
	{
		Meta.timecode = MachinimaBridge::ToStd(FApp::GetTimecode().ToString());
	}
	if (bSendCamera)
	{
		const FTransform Pose = ColorCapture->GetComponentTransform();
		const FVector Location = Pose.GetLocation();
		const FQuat Rotation = Pose.GetRotation();
		protocol::UnrealCameraPose Camera;
		Camera.location_cm = {Location.X, Location.Y, Location.Z};
		Camera.rotation_xyzw = {Rotation.X, Rotation.Y, Rotation.Z, Rotation.W};
		Camera.horizontal_fov_deg = ColorCapture->FOVAngle;
		Camera.width_px = static_cast<uint32_t>(Stream.Width);
		Camera.height_px = static_cast<uint32_t>(Stream.Height);
		Camera.near_cm = ColorCapture->bOverride_CustomNearClippingPlane ? ColorCapture->CustomNearClippingPlane : GNearClippingPlane;
		Camera.far_cm = ColorCapture->MaxViewDistanceOverride > 0.0f ? ColorCapture->MaxViewDistanceOverride : FarClipCm;
		Meta.camera = protocol::cameraInfoFromUnreal(Camera);
	}

	// Both captures render on the render thread; the copy command below is queued after them.
	ColorCapture->CaptureScene();
	FTextureRenderTargetResource* DepthResource = nullptr;
	if (DepthCapture != nullptr && DepthTarget != nullptr)
	{
		DepthCapture->CaptureScene();
		DepthResource = DepthTarget->GameThread_GetRenderTargetResource();
	}
	FTextureRenderTargetResource* ColorResource = ColorTarget->GameThread_GetRenderTargetResource();
	++CaptureState->InFlight;
	++FramesCaptured;
	ENQUEUE_RENDER_COMMAND(MachinimaBridgeEnqueueReadback)(
		[State = CaptureState, ColorResource, DepthResource, Meta = MoveTemp(Meta)](FRHICommandListImmediate& RHICmdList) mutable
		{
			State->Enqueue_RenderThread(RHICmdList, ColorResource, DepthResource, MoveTemp(Meta));
		});
}
