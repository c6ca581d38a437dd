// The engine's connection to the bridge server (see BridgeConnectionSubsystem.h).
#include "BridgeConnectionSubsystem.h"

#include "BridgeLiveLinkSource.h"
#include "BridgeUnrealConversion.h"
#include "BridgeWorker.h"
#include "Engine/Engine.h"
#include "Engine/GameInstance.h"
#include "Engine/World.h"
#include "Features/IModularFeatures.h"
#include "ILiveLinkClient.h"
#include "Interfaces/IPluginManager.h"
#include "MachinimaBridgeModule.h"
#include "MachinimaBridgeSettings.h"
#include "Misc/EngineVersion.h"
#include "Protocol/Messages.h"

using namespace mbridge;

void UBridgeConnectionSubsystem::Initialize(FSubsystemCollectionBase& Collection)
{
	Super::Initialize(Collection);
	if (GetDefault<UMachinimaBridgeSettings>()->bConnectOnStart)
	{
		Connect();
	}
}

void UBridgeConnectionSubsystem::Deinitialize()
{
	if (IModularFeatures::Get().IsModularFeatureAvailable(ILiveLinkClient::ModularFeatureName))
	{
		ILiveLinkClient& Client = IModularFeatures::Get().GetModularFeature<ILiveLinkClient>(ILiveLinkClient::ModularFeatureName);
		for (const TSharedPtr<FBridgeLiveLinkSource, ESPMode::ThreadSafe>& Source : LiveLinkSources)
		{
			if (Source->GetSourceGuid().IsValid())
			{
				Client.RemoveSource(Source->GetSourceGuid());
			}
		}
	}
	LiveLinkSources.Reset();
	StopWorker();
	Super::Deinitialize();
}

TStatId UBridgeConnectionSubsystem::GetStatId() const
{
	RETURN_QUICK_DECLARE_CYCLE_STAT(UBridgeConnectionSubsystem, STATGROUP_Tickables);
}

ETickableTickType UBridgeConnectionSubsystem::GetTickableTickType() const
{
	return IsTemplate() ? ETickableTickType::Never : ETickableTickType::Always;
}

void UBridgeConnectionSubsystem::Tick(float DeltaTime)
{
	DispatchEvents();
	LiveLinkSources.RemoveAll([this](const TSharedPtr<FBridgeLiveLinkSource, ESPMode::ThreadSafe>& Source)
	{
		if (!Source->IsShutDown())
		{
			return false;
		}
		if (Worker.IsValid())
		{
			Worker->RemoveMocapListener(Source.Get());
		}
		return true;
	});
}

UBridgeConnectionSubsystem* UBridgeConnectionSubsystem::Get(const UObject* WorldContextObject)
{
	if (GEngine == nullptr || WorldContextObject == nullptr)
	{
		return nullptr;
	}
	const UWorld* World = GEngine->GetWorldFromContextObject(WorldContextObject, EGetWorldErrorMode::LogAndReturnNull);
	const UGameInstance* GameInstance = World ? World->GetGameInstance() : nullptr;
	return GameInstance ? GameInstance->GetSubsystem<UBridgeConnectionSubsystem>() : nullptr;
}

void UBridgeConnectionSubsystem::Connect()
{
	ConnectTo(GetDefault<UMachinimaBridgeSettings>()->Endpoint);
}

void UBridgeConnectionSubsystem::ConnectTo(const FString& Endpoint)
{
	StartWorker(Endpoint);
}

void UBridgeConnectionSubsystem::Disconnect()
{
	StopWorker();
}

EBridgeConnectionState UBridgeConnectionSubsystem::GetConnectionState() const
{
	return Worker.IsValid() ? Worker->GetState() : EBridgeConnectionState::Stopped;
}

FBridgeLinkStats UBridgeConnectionSubsystem::GetLinkStats() const
{
	return Worker.IsValid() ? Worker->GetStats() : FBridgeLinkStats();
}

void UBridgeConnectionSubsystem::StartWorker(const FString& Endpoint)
{
	StopWorker();
	CurrentEndpoint = Endpoint;
	const UMachinimaBridgeSettings* Settings = GetDefault<UMachinimaBridgeSettings>();

	FString PluginVersion = TEXT("0.1.0");
	if (const TSharedPtr<IPlugin> Plugin = IPluginManager::Get().FindPlugin(TEXT("MachinimaBridge")))
	{
		PluginVersion = Plugin->GetDescriptor().VersionName;
	}

	transport::SessionConfig Config;
	Config.endpoint = MachinimaBridge::ToStd(Endpoint);
	Config.engine = MachinimaBridge::ToStd(TEXT("Unreal Engine ") + FEngineVersion::Current().ToString(EVersionComponent::Patch));
	Config.client = MachinimaBridge::ToStd(FString::Printf(TEXT("machinima-bridge-unreal/%s (%s)"), *PluginVersion,
		ANSI_TO_TCHAR(FPlatformProperties::IniPlatformName())));
	Config.session = MachinimaBridge::ToStd(Settings->SessionName);
	Config.heartbeat_ms = static_cast<uint32_t>(FMath::Clamp(Settings->HeartbeatMs, 10, 600000));
	Config.socket.send_hwm = FMath::Max(1, Settings->SendQueueFrames);
	Config.capabilities.push_back("camera");
	// The server tells "session" engines when a take starts or stops (OnTakeStateChanged).
	Config.capabilities.push_back(protocol::kSessionCapability);
	bool bAnyDepth = false;
	bool bAnyAudio = false;
	for (const TPair<int32, FBridgeStreamSettings>& Entry : Streams)
	{
		protocol::StreamDeclaration Declaration;
		if (BuildDeclaration(Entry.Value, Declaration))
		{
			Config.streams.push_back(Declaration);
			bAnyDepth |= Entry.Value.bSendDepth;
			bAnyAudio |= Declaration.audio.has_value();
		}
	}
	if (bAnyDepth)
	{
		Config.capabilities.push_back("depth");
	}
	if (bAnyAudio)
	{
		Config.capabilities.push_back("audio");
	}
	bWorkerHasAudioCapability = bAnyAudio;
	if (bWantsMocap)
	{
		Config.capabilities.push_back("mocap");
	}

	transport::LinkOptions Options;
	Options.reconnect_delay_ms = FMath::Max(50, Settings->ReconnectDelayMs);
	Options.max_reconnect_delay_ms = FMath::Max(Options.reconnect_delay_ms, Settings->MaxReconnectDelayMs);
	Options.welcome_timeout_ms = FMath::Max(1000, Settings->WelcomeTimeoutMs);

	Worker = MakeShared<FBridgeWorker, ESPMode::ThreadSafe>(MoveTemp(Config), Options);
	for (const TSharedPtr<FBridgeLiveLinkSource, ESPMode::ThreadSafe>& Source : LiveLinkSources)
	{
		Worker->AddMocapListener(Source.ToSharedRef());
	}
	if (!Worker->Start())
	{
		UE_LOG(LogMachinimaBridge, Error, TEXT("cannot start the bridge worker thread"));
		Worker.Reset();
		return;
	}
	UE_LOG(LogMachinimaBridge, Log, TEXT("connecting to %s with %d stream(s)"), *Endpoint, Streams.Num());
}

void UBridgeConnectionSubsystem::StopWorker()
{
	if (Worker.IsValid())
	{
		Worker->Shutdown();
		DispatchEvents();
		Worker.Reset();
	}
}

bool UBridgeConnectionSubsystem::RegisterStream(const FBridgeStreamSettings& Stream)
{
	protocol::StreamDeclaration Declaration;
	FString Error;
	if (!MachinimaBridge::ToDeclaration(Stream, Declaration, Error))
	{
		UE_LOG(LogMachinimaBridge, Error, TEXT("stream not registered: %s"), *Error);
		return false;
	}
	Streams.Add(Stream.StreamId, Stream);
	PushStreamsToWorker();
	return true;
}

void UBridgeConnectionSubsystem::UnregisterStream(int32 StreamId)
{
	if (Streams.Remove(StreamId) > 0)
	{
		PushStreamsToWorker();
	}
}

bool UBridgeConnectionSubsystem::GetStream(int32 StreamId, FBridgeStreamSettings& OutStream) const
{
	if (const FBridgeStreamSettings* Found = Streams.Find(StreamId))
	{
		OutStream = *Found;
		return true;
	}
	return false;
}

bool UBridgeConnectionSubsystem::BuildDeclaration(const FBridgeStreamSettings& Stream, protocol::StreamDeclaration& Out) const
{
	FString Error;
	if (!MachinimaBridge::ToDeclaration(Stream, Out, Error))
	{
		return false;
	}
	if (const FBridgeAudioFormat* Audio = StreamAudio.Find(Stream.StreamId))
	{
		protocol::AudioFormat Format;
		if (MachinimaBridge::ToAudioFormat(*Audio, Format, Error))
		{
			Out.audio = Format;
		}
	}
	return true;
}

void UBridgeConnectionSubsystem::PushStreamsToWorker()
{
	if (!Worker.IsValid())
	{
		return;
	}
	std::vector<protocol::StreamDeclaration> Declarations;
	bool bAnyAudio = false;
	for (const TPair<int32, FBridgeStreamSettings>& Entry : Streams)
	{
		protocol::StreamDeclaration Declaration;
		if (BuildDeclaration(Entry.Value, Declaration))
		{
			bAnyAudio |= Declaration.audio.has_value();
			Declarations.push_back(Declaration);
		}
	}
	// The first (or last) stream with sound changes the capabilities of HELLO ("audio"), which a
	// running worker keeps: start a new one (a new session, as a stream change makes anyway).
	if (bAnyAudio != bWorkerHasAudioCapability)
	{
		StartWorker(CurrentEndpoint);
		return;
	}
	Worker->SetStreams(MoveTemp(Declarations));
}

bool UBridgeConnectionSubsystem::SetStreamAudio(int32 StreamId, const FBridgeAudioFormat& Format)
{
	protocol::AudioFormat Checked;
	FString Error;
	if (!MachinimaBridge::ToAudioFormat(Format, Checked, Error))
	{
		UE_LOG(LogMachinimaBridge, Error, TEXT("stream %d: sound not declared: %s"), StreamId, *Error);
		return false;
	}
	const FBridgeAudioFormat* Current = StreamAudio.Find(StreamId);
	if (Current != nullptr && Current->SampleRateHz == Format.SampleRateHz && Current->Channels == Format.Channels)
	{
		return true;
	}
	StreamAudio.Add(StreamId, Format);
	PushStreamsToWorker();
	return true;
}

void UBridgeConnectionSubsystem::ClearStreamAudio(int32 StreamId)
{
	if (StreamAudio.Remove(StreamId) > 0)
	{
		PushStreamsToWorker();
	}
}

int64 UBridgeConnectionSubsystem::SubmitAudio(int32 StreamId, uint64 TCaptureNs, std::vector<uint8_t>&& Pcm, const FBridgeAudioFormat& Format, FString& OutError)
{
	if (!Worker.IsValid())
	{
		OutError = TEXT("not connected");
		return -1;
	}
	if (StreamId < 0 || StreamId > 65535 || Format.SampleRateHz <= 0 || Format.Channels <= 0)
	{
		OutError = FString::Printf(TEXT("stream %d, %d Hz x %d is not a valid AUDIO chunk"), StreamId, Format.SampleRateHz, Format.Channels);
		return -1;
	}
	return Worker->SubmitAudio(static_cast<uint16>(StreamId), TCaptureNs, MoveTemp(Pcm), static_cast<uint32>(Format.SampleRateHz),
		static_cast<uint32>(Format.Channels), OutError);
}

int64 UBridgeConnectionSubsystem::SendControl(int32 StreamId, const FString& Stage, const TMap<FString, FBridgeParamValue>& Params, float GlideMs)
{
	if (!Worker.IsValid())
	{
		UE_LOG(LogMachinimaBridge, Warning, TEXT("CONTROL for stage '%s' not sent: not connected (call Connect first)"), *Stage);
		return 0;
	}
	if (StreamId < 0 || StreamId > 65535)
	{
		UE_LOG(LogMachinimaBridge, Warning, TEXT("CONTROL not sent: stream id %d is outside 0..65535"), StreamId);
		return 0;
	}
	protocol::MsgpackValue Values = protocol::MsgpackValue::map();
	for (const TPair<FString, FBridgeParamValue>& Param : Params)
	{
		Values.append(MachinimaBridge::ToStd(Param.Key), MachinimaBridge::ToMsgpack(Param.Value));
	}
	TOptional<double> Glide;
	if (GlideMs > 0.0f)
	{
		Glide = static_cast<double>(FMath::Min(GlideMs, 600000.0f));
	}
	return static_cast<int64>(Worker->SubmitControl(static_cast<uint16>(StreamId), MachinimaBridge::ToStd(Stage), MoveTemp(Values), Glide));
}

int64 UBridgeConnectionSubsystem::StartTake(const FString& Name)
{
	if (!Worker.IsValid())
	{
		UE_LOG(LogMachinimaBridge, Warning, TEXT("take '%s' not started: not connected (call Connect first)"), *Name);
		return 0;
	}
	FString Error;
	const uint64 RequestId = Worker->StartTake(Name, Error);
	if (RequestId == 0)
	{
		UE_LOG(LogMachinimaBridge, Error, TEXT("take not started: %s"), *Error);
	}
	return static_cast<int64>(RequestId);
}

int64 UBridgeConnectionSubsystem::StopTake()
{
	if (!Worker.IsValid())
	{
		UE_LOG(LogMachinimaBridge, Warning, TEXT("take not stopped: not connected (call Connect first)"));
		return 0;
	}
	return static_cast<int64>(Worker->StopTake());
}

void UBridgeConnectionSubsystem::RequestServerStats()
{
	if (Worker.IsValid())
	{
		Worker->RequestStats();
	}
}

bool UBridgeConnectionSubsystem::AddLiveLinkSource()
{
	IModularFeatures& Features = IModularFeatures::Get();
	if (!Features.IsModularFeatureAvailable(ILiveLinkClient::ModularFeatureName))
	{
		UE_LOG(LogMachinimaBridge, Error, TEXT("no Live Link client: enable the Live Link plugin"));
		return false;
	}
	ILiveLinkClient& Client = Features.GetModularFeature<ILiveLinkClient>(ILiveLinkClient::ModularFeatureName);
	TSharedPtr<FBridgeLiveLinkSource, ESPMode::ThreadSafe> Source = MakeShared<FBridgeLiveLinkSource, ESPMode::ThreadSafe>(CurrentEndpoint);
	Client.AddSource(Source);
	LiveLinkSources.Add(Source);
	if (!bWantsMocap)
	{
		// The server relays MOCAP only to engines that declared the capability in HELLO.
		bWantsMocap = true;
		if (Worker.IsValid())
		{
			StartWorker(CurrentEndpoint);
		}
	}
	else if (Worker.IsValid())
	{
		Worker->AddMocapListener(Source.ToSharedRef());
	}
	return true;
}

void UBridgeConnectionSubsystem::SubmitFrame_AnyThread(protocol::Frame&& Frame, std::shared_ptr<const void> KeepAlive)
{
	// Worker is replaced only on the game thread; a copy of the pointer keeps this one alive.
	const TSharedPtr<FBridgeWorker, ESPMode::ThreadSafe> Current = Worker;
	if (Current.IsValid())
	{
		Current->SubmitFrame(MoveTemp(Frame), MoveTemp(KeepAlive));
	}
}

bool UBridgeConnectionSubsystem::TakeLatestResult(int32 StreamId, FBridgeResultFramePtr& OutFrame)
{
	return Worker.IsValid() && Worker->TakeLatestResult(StreamId, OutFrame);
}

void UBridgeConnectionSubsystem::DispatchEvents()
{
	if (!Worker.IsValid())
	{
		return;
	}
	TArray<FBridgeGameThreadEvent> Events;
	Worker->TakeGameThreadEvents(Events);
	for (const FBridgeGameThreadEvent& Event : Events)
	{
		switch (Event.Type)
		{
		case FBridgeGameThreadEvent::EType::Connected:
			OnConnected.Broadcast(Event.Text, Event.Detail);
			break;
		case FBridgeGameThreadEvent::EType::Disconnected:
			OnDisconnected.Broadcast(Event.Text);
			break;
		case FBridgeGameThreadEvent::EType::ControlAck:
			if (!Event.bOk)
			{
				UE_LOG(LogMachinimaBridge, Warning, TEXT("CONTROL %lld rejected (code %d): %s"), Event.RequestId, Event.Code, *Event.Text);
			}
			OnControlAck.Broadcast(Event.RequestId, Event.bOk, Event.Code, Event.Text);
			break;
		case FBridgeGameThreadEvent::EType::Error:
			OnError.Broadcast(Event.Code, Event.Text, Event.Detail);
			break;
		case FBridgeGameThreadEvent::EType::ServerStats:
			OnServerStats.Broadcast(Event.Streams);
			break;
		case FBridgeGameThreadEvent::EType::TakeAck:
			LastTakeAck = Event.Take;
			UE_LOG(LogMachinimaBridge, Log, TEXT("%s"), *Event.Text);
			OnTakeAck.Broadcast(Event.Take);
			break;
		case FBridgeGameThreadEvent::EType::TakeState:
			TakeState = Event.TakeState;
			OnTakeStateChanged.Broadcast(Event.TakeState);
			break;
		}
	}
}
