// Sends the game's sound as AUDIO chunks (see BridgeAudioCaptureComponent.h).
#include "BridgeAudioCaptureComponent.h"

#include "AudioDevice.h"
#include "BridgeConnectionSubsystem.h"
#include "Containers/Queue.h"
#include "Engine/World.h"
#include "MachinimaBridgeModule.h"
#include "Protocol/AudioPcm.h"
#include "Runtime/Launch/Resources/Version.h"
#include "Sound/SoundSubmix.h"
#include "Transport/BridgeSocket.h"

#include <atomic>
#include <vector>

#define MBRIDGE_SHARED_SUBMIX_LISTENER (ENGINE_MAJOR_VERSION > 5 || (ENGINE_MAJOR_VERSION == 5 && ENGINE_MINOR_VERSION >= 4))

using namespace mbridge;

/** One finished chunk on its way from the audio render thread to the game thread. */
struct FBridgeAudioChunk
{
	uint64 TCaptureNs = 0;
	std::vector<uint8_t> Pcm;
};

/** The submix listener: audio render thread in, a single-producer single-consumer queue out. */
class FBridgeSubmixTap final : public ISubmixBufferListener
{
public:
	FBridgeSubmixTap(uint32 InSampleRateHz, uint32 InChannels, uint32 ChunkSamples, int64 OffsetNs, int32 InMaxQueued)
		: SampleRateHz(InSampleRateHz)
		, MaxQueued(InMaxQueued)
		, Chunker(InSampleRateHz, InChannels, ChunkSamples,
			  [this](uint64_t TCaptureNs, std::vector<uint8_t>&& Pcm, uint32_t /*Samples*/) { Enqueue(TCaptureNs, MoveTemp(Pcm)); })
	{
		Chunker.offset_ns = OffsetNs;
	}

	bool IsValid() const { return Chunker.valid(); }

	// Audio render thread.
	virtual void OnNewSubmixBuffer(const USoundSubmix* /*OwningSubmix*/, float* AudioData, int32 NumSamples, int32 NumChannels,
		const int32 SampleRate, double /*AudioClock*/) override
	{
		if (AudioData == nullptr || NumChannels <= 0 || NumSamples <= 0)
		{
			return;
		}
		if (SampleRate != static_cast<int32>(SampleRateHz))
		{
			WrongRateBuffers.fetch_add(1);  // the declaration no longer matches the device: the game thread re-declares
			return;
		}
		Chunker.write(AudioData, static_cast<size_t>(NumSamples / NumChannels), static_cast<uint32_t>(NumChannels),
			transport::monotonicNowNs());
	}

#if MBRIDGE_SHARED_SUBMIX_LISTENER
	virtual const FString& GetListenerName() const override
	{
		static const FString Name = TEXT("MachinimaBridgeAudioCapture");
		return Name;
	}
#endif

	// Game thread.
	bool Dequeue(FBridgeAudioChunk& Out)
	{
		if (!Queue.Dequeue(Out))
		{
			return false;
		}
		Queued.fetch_sub(1);
		return true;
	}

	int64 TakeDropped() { return Dropped.exchange(0); }
	int64 TakeWrongRateBuffers() { return WrongRateBuffers.exchange(0); }

private:
	void Enqueue(uint64 TCaptureNs, std::vector<uint8_t>&& Pcm)
	{
		if (Queued.load() >= MaxQueued)
		{
			Dropped.fetch_add(1);
			return;
		}
		FBridgeAudioChunk Chunk;
		Chunk.TCaptureNs = TCaptureNs;
		Chunk.Pcm = MoveTemp(Pcm);
		Queue.Enqueue(MoveTemp(Chunk));
		Queued.fetch_add(1);
	}

	const uint32 SampleRateHz;
	const int32 MaxQueued;
	protocol::AudioChunker Chunker;
	TQueue<FBridgeAudioChunk, EQueueMode::Spsc> Queue;
	std::atomic<int32> Queued{0};
	std::atomic<int64> Dropped{0};
	std::atomic<int64> WrongRateBuffers{0};
};

UBridgeAudioCaptureComponent::UBridgeAudioCaptureComponent()
{
	PrimaryComponentTick.bCanEverTick = true;
	PrimaryComponentTick.bTickEvenWhenPaused = true;
}

void UBridgeAudioCaptureComponent::BeginPlay()
{
	Super::BeginPlay();
	Subsystem = UBridgeConnectionSubsystem::Get(this);
	if (!StartListening())
	{
		SetComponentTickEnabled(false);
	}
}

bool UBridgeAudioCaptureComponent::StartListening()
{
	UWorld* World = GetWorld();
	FAudioDeviceHandle AudioDevice = World ? World->GetAudioDevice() : FAudioDeviceHandle();
	if (!Subsystem.IsValid() || !AudioDevice.IsValid())
	{
		UE_LOG(LogMachinimaBridge, Error, TEXT("%s: %s; not sending sound"), *GetPathName(),
			Subsystem.IsValid() ? TEXT("this world has no audio device (-nosound?)") : TEXT("no game instance, so no bridge connection"));
		return false;
	}
	DeclaredFormat.SampleRateHz = FMath::RoundToInt(AudioDevice->GetSampleRate());
	DeclaredFormat.Channels = FMath::Clamp(Channels, 1, 8);
	const uint32 Rate = static_cast<uint32>(DeclaredFormat.SampleRateHz);
	Tap = MakeShared<FBridgeSubmixTap, ESPMode::ThreadSafe>(Rate, static_cast<uint32>(DeclaredFormat.Channels),
		protocol::audioSamplesFor(Rate, static_cast<double>(FMath::Clamp(ChunkMs, 10, 100))),
		static_cast<int64>(static_cast<double>(OffsetMs) * 1.0e6), FMath::Clamp(MaxQueuedChunks, 4, 1024));
	if (!Tap->IsValid() || !Subsystem->SetStreamAudio(StreamId, DeclaredFormat))
	{
		UE_LOG(LogMachinimaBridge, Error, TEXT("%s: the audio device's %d Hz x %d cannot be declared (8000..192000 Hz, 1..8 channels)"),
			*GetPathName(), DeclaredFormat.SampleRateHz, DeclaredFormat.Channels);
		Tap.Reset();
		return false;
	}
	bDeclared = true;
#if MBRIDGE_SHARED_SUBMIX_LISTENER
	USoundSubmix& Target = Submix ? *Submix.Get() : AudioDevice->GetMainSubmixObject();
	ListenedSubmix = &Target;
	AudioDevice->RegisterSubmixBufferListener(Tap.ToSharedRef(), Target);
#else
	ListenedSubmix = Submix.Get();  // nullptr: the main output submix
	AudioDevice->RegisterSubmixBufferListener(Tap.Get(), Submix.Get());
#endif
	return true;
}

void UBridgeAudioCaptureComponent::StopListening()
{
	if (!Tap.IsValid())
	{
		return;
	}
	UWorld* World = GetWorld();
	FAudioDeviceHandle AudioDevice = World ? World->GetAudioDevice() : FAudioDeviceHandle();
	if (AudioDevice.IsValid())
	{
#if MBRIDGE_SHARED_SUBMIX_LISTENER
		if (USoundSubmix* Target = ListenedSubmix.Get())
		{
			AudioDevice->UnregisterSubmixBufferListener(Tap.ToSharedRef(), *Target);
		}
#else
		AudioDevice->UnregisterSubmixBufferListener(Tap.Get(), ListenedSubmix.Get());
#endif
	}
#if MBRIDGE_SHARED_SUBMIX_LISTENER
	// The mixer holds its own shared reference until the unregistration is processed.
	Tap.Reset();
#else
	RetiredTaps.Add(MoveTemp(Tap));
#endif
}

void UBridgeAudioCaptureComponent::EndPlay(const EEndPlayReason::Type EndPlayReason)
{
	StopListening();
	if (bDeclared && Subsystem.IsValid())
	{
		Subsystem->ClearStreamAudio(StreamId);
	}
	bDeclared = false;
	Super::EndPlay(EndPlayReason);
}

void UBridgeAudioCaptureComponent::TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction)
{
	Super::TickComponent(DeltaTime, TickType, ThisTickFunction);
	if (!Tap.IsValid() || !Subsystem.IsValid())
	{
		return;
	}
	ChunksDropped += Tap->TakeDropped();
	if (Tap->TakeWrongRateBuffers() > 0)
	{
		// The output device changed its rate: declare the new format (a new HELLO) and listen again.
		UE_LOG(LogMachinimaBridge, Warning, TEXT("%s: the audio device no longer renders at %d Hz; declaring its new rate"),
			*GetPathName(), DeclaredFormat.SampleRateHz);
		StopListening();
		if (!StartListening())
		{
			SetComponentTickEnabled(false);
		}
		return;
	}
	FBridgeAudioChunk Chunk;
	while (Tap->Dequeue(Chunk))
	{
		FString Error;
		const int64 Index = Subsystem->SubmitAudio(StreamId, Chunk.TCaptureNs, MoveTemp(Chunk.Pcm), DeclaredFormat, Error);
		if (Index >= 0)
		{
			++ChunksSubmitted;
		}
		else
		{
			++ChunksDropped;
			if (Error != LastProblem)
			{
				LastProblem = Error;
				UE_LOG(LogMachinimaBridge, Verbose, TEXT("%s: AUDIO chunk dropped: %s"), *GetPathName(), *Error);
			}
		}
	}
}
