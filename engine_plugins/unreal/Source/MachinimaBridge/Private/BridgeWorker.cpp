// The bridge's worker thread (see BridgeWorker.h).
#include "BridgeWorker.h"

#include "BridgeUnrealConversion.h"
#include "HAL/RunnableThread.h"
#include "MachinimaBridgeModule.h"
#include "Protocol/PlanePixels.h"

using namespace mbridge;

FBridgeWorker::FBridgeWorker(transport::SessionConfig Config, transport::LinkOptions Options)
	: Endpoint(MachinimaBridge::ToFString(Config.endpoint))
{
	transport::LinkCallbacks Callbacks;
	Callbacks.on_connected = [this](const protocol::Welcome& Welcome)
	{
		FBridgeGameThreadEvent Event;
		Event.Type = FBridgeGameThreadEvent::EType::Connected;
		Event.Text = MachinimaBridge::ToFString(Welcome.server);
		Event.Detail = MachinimaBridge::ToFString(Welcome.engine_id);
		PushEvent(MoveTemp(Event));
		OnConnection(true);
	};
	Callbacks.on_disconnected = [this](const std::string& Reason)
	{
		FBridgeGameThreadEvent Event;
		Event.Type = FBridgeGameThreadEvent::EType::Disconnected;
		Event.Text = MachinimaBridge::ToFString(Reason);
		PushEvent(MoveTemp(Event));
		OnConnection(false);
	};
	Callbacks.on_result = [this](std::shared_ptr<const transport::ReceivedMessage> Message) { OnResult(Message); };
	Callbacks.on_mocap = [this](std::shared_ptr<const transport::ReceivedMessage> Message) { OnMocap(Message); };
	Callbacks.on_control_ack = [this](const protocol::ControlAck& Ack)
	{
		FBridgeGameThreadEvent Event;
		Event.Type = FBridgeGameThreadEvent::EType::ControlAck;
		Event.RequestId = static_cast<int64>(Ack.request_id);
		Event.bOk = Ack.ok;
		Event.Code = static_cast<int32>(Ack.code.value_or(0));
		Event.Text = Ack.reason ? MachinimaBridge::ToFString(*Ack.reason) : FString();
		PushEvent(MoveTemp(Event));
	};
	Callbacks.on_take_ack = [this](const protocol::TakeAck& Ack)
	{
		FBridgeGameThreadEvent Event;
		Event.Type = FBridgeGameThreadEvent::EType::TakeAck;
		FBridgeTakeAck& Take = Event.Take;
		Take.RequestId = static_cast<int64>(Ack.request_id);
		Take.bOk = Ack.ok;
		Take.bRecord = Ack.record;
		Take.TakeName = MachinimaBridge::ToFString(Ack.take);
		Take.Path = MachinimaBridge::ToFString(Ack.path);
		Take.Timecode = MachinimaBridge::ToFString(Ack.timecode.value_or(std::string()));
		Take.Status = MachinimaBridge::ToFString(Ack.status.value_or(std::string()));
		Take.DurationS = Ack.duration_s ? static_cast<float>(*Ack.duration_s) : -1.0f;
		Take.ErrorCode = static_cast<int32>(Ack.code.value_or(0));
		Take.Reason = MachinimaBridge::ToFString(Ack.ok ? Ack.failure.value_or(std::string()) : Ack.reason);
		Event.bOk = Ack.ok;
		Event.RequestId = Take.RequestId;
		Event.Text = MachinimaBridge::ToFString(Ack.describe());
		PushEvent(MoveTemp(Event));
	};
	Callbacks.on_take_state = [this](const protocol::TakeState& State)
	{
		FBridgeGameThreadEvent Event;
		Event.Type = FBridgeGameThreadEvent::EType::TakeState;
		Event.TakeState.bKnown = true;
		Event.TakeState.bRecording = State.recording;
		Event.TakeState.TakeName = MachinimaBridge::ToFString(State.take);
		Event.TakeState.Timecode = MachinimaBridge::ToFString(State.timecode.value_or(std::string()));
		Event.TakeState.Status = MachinimaBridge::ToFString(State.status.value_or(std::string()));
		PushEvent(MoveTemp(Event));
	};
	Callbacks.on_error = [this](const protocol::Error& Error)
	{
		FBridgeGameThreadEvent Event;
		Event.Type = FBridgeGameThreadEvent::EType::Error;
		Event.Code = static_cast<int32>(Error.code);
		Event.Text = MachinimaBridge::ToFString(Error.name);
		Event.Detail = MachinimaBridge::ToFString(Error.message);
		PushEvent(MoveTemp(Event));
	};
	Callbacks.on_stats = [this](const protocol::Stats& Stats)
	{
		FBridgeGameThreadEvent Event;
		Event.Type = FBridgeGameThreadEvent::EType::ServerStats;
		if (Stats.streams)
		{
			for (const protocol::StreamStats& Stream : *Stats.streams)
			{
				FBridgeServerStreamStats& Out = Event.Streams.AddDefaulted_GetRef();
				Out.StreamId = static_cast<int32>(Stream.id);
				Out.Name = MachinimaBridge::ToFString(Stream.name);
				Out.FramesIn = Stream.frames_in;
				Out.FramesOut = Stream.frames_out;
				Out.Dropped = Stream.dropped;
				Out.FpsIn = static_cast<float>(Stream.fps_in);
				Out.FpsOut = static_cast<float>(Stream.fps_out);
				Out.LatencyMsP50 = static_cast<float>(Stream.latency_ms_p50);
				Out.LatencyMsP95 = static_cast<float>(Stream.latency_ms_p95);
			}
		}
		PushEvent(MoveTemp(Event));
	};
	Callbacks.on_log = [](transport::LinkLogLevel Level, const std::string& Message)
	{
		const FString Text = MachinimaBridge::ToFString(Message);
		switch (Level)
		{
		case transport::LinkLogLevel::Error:
			UE_LOG(LogMachinimaBridge, Error, TEXT("%s"), *Text);
			break;
		case transport::LinkLogLevel::Warning:
			UE_LOG(LogMachinimaBridge, Warning, TEXT("%s"), *Text);
			break;
		case transport::LinkLogLevel::Info:
			UE_LOG(LogMachinimaBridge, Log, TEXT("%s"), *Text);
			break;
		default:
			UE_LOG(LogMachinimaBridge, Verbose, TEXT("%s"), *Text);
			break;
		}
	};
	Link = MakeUnique<transport::EngineLink>(MoveTemp(Config), Options, MoveTemp(Callbacks));
}

FBridgeWorker::~FBridgeWorker()
{
	Shutdown();
}

bool FBridgeWorker::Start()
{
	check(Thread == nullptr);
	// 1 MiB of stack: message parsing recurses (bounded at 512 levels of nesting).
	Thread = FRunnableThread::Create(this, TEXT("MachinimaBridgeWorker"), 1024 * 1024, TPri_AboveNormal);
	return Thread != nullptr;
}

void FBridgeWorker::Shutdown()
{
	if (Thread != nullptr)
	{
		Link->requestStop();
		Thread->WaitForCompletion();
		delete Thread;
		Thread = nullptr;
	}
}

uint32 FBridgeWorker::Run()
{
	Link->run();
	return 0;
}

void FBridgeWorker::Stop()
{
	Link->requestStop();
}

void FBridgeWorker::SubmitFrame(protocol::Frame&& Frame, std::shared_ptr<const void> KeepAlive)
{
	Link->submitFrame(MoveTemp(Frame), MoveTemp(KeepAlive));
}

int64 FBridgeWorker::SubmitAudio(uint16 StreamId, uint64 TCaptureNs, std::vector<uint8_t>&& Pcm, uint32 SampleRateHz, uint32 Channels, FString& OutError)
{
	std::string Error;
	const int64_t Index = Link->submitAudio(StreamId, TCaptureNs, MoveTemp(Pcm), SampleRateHz, Channels, &Error);
	if (Index < 0)
	{
		OutError = MachinimaBridge::ToFString(Error);
	}
	return static_cast<int64>(Index);
}

uint64 FBridgeWorker::SubmitControl(uint16 StreamId, const std::string& Stage, protocol::MsgpackValue Params, TOptional<double> GlideMs)
{
	std::optional<double> Glide;
	if (GlideMs.IsSet())
	{
		Glide = GlideMs.GetValue();
	}
	return Link->submitControl(StreamId, Stage, MoveTemp(Params), Glide);
}

uint64 FBridgeWorker::StartTake(const FString& Name, FString& OutError)
{
	std::string Error;
	const uint64_t RequestId = Link->startTake(MachinimaBridge::ToStd(Name), &Error);
	if (RequestId == 0)
	{
		OutError = MachinimaBridge::ToFString(Error);
	}
	return RequestId;
}

uint64 FBridgeWorker::StopTake()
{
	return Link->stopTake();
}

void FBridgeWorker::RequestStats()
{
	Link->requestStats();
}

void FBridgeWorker::SetStreams(std::vector<protocol::StreamDeclaration> Streams)
{
	Link->setStreams(MoveTemp(Streams));
}

EBridgeConnectionState FBridgeWorker::GetState() const
{
	switch (Link->state())
	{
	case transport::LinkState::Connecting:
		return EBridgeConnectionState::Connecting;
	case transport::LinkState::Connected:
		return EBridgeConnectionState::Connected;
	case transport::LinkState::Stopped:
		return EBridgeConnectionState::Stopped;
	case transport::LinkState::Idle:
	default:
		return EBridgeConnectionState::Idle;
	}
}

FBridgeLinkStats FBridgeWorker::GetStats() const
{
	const transport::LinkCounters Counters = Link->counters();
	FBridgeLinkStats Out;
	Out.FramesSubmitted = static_cast<int64>(Counters.frames_submitted);
	Out.FramesSent = static_cast<int64>(Counters.frames_sent);
	Out.FramesReplaced = static_cast<int64>(Counters.frames_replaced);
	Out.FramesSkipped = static_cast<int64>(Counters.frames_skipped);
	Out.Results = static_cast<int64>(Counters.results);
	Out.ServerDropped = static_cast<int64>(Counters.server_dropped);
	Out.Errors = static_cast<int64>(Counters.errors);
	Out.AudioChunksSent = static_cast<int64>(Counters.audio_chunks_sent);
	Out.AudioChunksDropped = static_cast<int64>(Counters.audio_chunks_dropped);
	Out.Connects = static_cast<int32>(Counters.connects);
	Out.Disconnects = static_cast<int32>(Counters.disconnects);
	Out.RoundTripMsLast = static_cast<float>(Counters.rtt_ms_last);
	Out.RoundTripMsP50 = static_cast<float>(Counters.rtt_ms_p50);
	Out.RoundTripMsP95 = static_cast<float>(Counters.rtt_ms_p95);
	return Out;
}

void FBridgeWorker::OnResult(const std::shared_ptr<const transport::ReceivedMessage>& Message)
{
	const protocol::Result& Result = std::get<protocol::Result>(Message->message);
	const protocol::Plane* Color = Result.plane(protocol::PlaneKind::Color);
	if (Color == nullptr)
	{
		UE_LOG(LogMachinimaBridge, Warning, TEXT("RESULT %llu of stream %d has no colour plane; ignored"),
			static_cast<unsigned long long>(Result.index), static_cast<int32>(Result.stream));
		return;
	}
	TSharedRef<FBridgeResultFrame, ESPMode::ThreadSafe> Frame = MakeShared<FBridgeResultFrame, ESPMode::ThreadSafe>();
	Frame->StreamId = Result.stream;
	Frame->Index = static_cast<int64>(Result.index);
	Frame->Width = static_cast<int32>(Color->descriptor.width);
	Frame->Height = static_cast<int32>(Color->descriptor.height);
	Frame->RoundTripMs = static_cast<float>(static_cast<double>(transport::monotonicNowNs() - static_cast<int64>(Result.t_capture_ns)) / 1.0e6);
	Frame->bHeld = Result.held;
	Frame->Dropped = static_cast<int64>(Result.dropped);
	switch (Color->descriptor.format)
	{
	case protocol::PixelFormat::BGRA8:
	case protocol::PixelFormat::RGBA8:
		// No copy: the texture upload reads straight from the received ZeroMQ part.
		Frame->PixelFormat = Color->descriptor.format == protocol::PixelFormat::BGRA8 ? PF_B8G8R8A8 : PF_R8G8B8A8;
		Frame->Pixels = Color->data.data;
		Frame->RowPitchBytes = static_cast<int32>(Color->descriptor.stride);
		Frame->Owner = Message;
		break;
	case protocol::PixelFormat::RGB8:
	{
		// No RGB8 texture format: convert to BGRA8 here, off the game thread.
		const size_t Pitch = static_cast<size_t>(Frame->Width) * 4;
		auto Converted = std::make_shared<std::vector<uint8_t>>(Pitch * static_cast<size_t>(Frame->Height));
		protocol::rgb8ToBgra8(Color->data.data, static_cast<size_t>(Color->descriptor.stride), Converted->data(), Pitch,
			Color->descriptor.width, Color->descriptor.height);
		Frame->PixelFormat = PF_B8G8R8A8;
		Frame->Pixels = Converted->data();
		Frame->RowPitchBytes = static_cast<int32>(Pitch);
		Frame->Owner = Converted;
		break;
	}
	default:
		UE_LOG(LogMachinimaBridge, Warning, TEXT("RESULT colour plane in %s cannot be shown; ignored"),
			ANSI_TO_TCHAR(protocol::pixelFormatName(Color->descriptor.format)));
		return;
	}
	FScopeLock Lock(&ResultsLock);
	LatestResults.Add(Frame->StreamId, Frame);
}

bool FBridgeWorker::TakeLatestResult(int32 StreamId, FBridgeResultFramePtr& Out)
{
	FScopeLock Lock(&ResultsLock);
	return LatestResults.RemoveAndCopyValue(StreamId, Out);
}

void FBridgeWorker::OnMocap(const std::shared_ptr<const transport::ReceivedMessage>& Message)
{
	TArray<TSharedPtr<IBridgeMocapListener, ESPMode::ThreadSafe>> Listeners;
	{
		FScopeLock Lock(&ListenersLock);
		for (const TWeakPtr<IBridgeMocapListener, ESPMode::ThreadSafe>& Weak : MocapListeners)
		{
			if (TSharedPtr<IBridgeMocapListener, ESPMode::ThreadSafe> Pinned = Weak.Pin())
			{
				Listeners.Add(MoveTemp(Pinned));
			}
		}
	}
	for (const TSharedPtr<IBridgeMocapListener, ESPMode::ThreadSafe>& Listener : Listeners)
	{
		Listener->HandleMocap_AnyThread(Message);
	}
}

void FBridgeWorker::OnConnection(bool bConnected)
{
	TArray<TSharedPtr<IBridgeMocapListener, ESPMode::ThreadSafe>> Listeners;
	{
		FScopeLock Lock(&ListenersLock);
		for (const TWeakPtr<IBridgeMocapListener, ESPMode::ThreadSafe>& Weak : MocapListeners)
		{
			if (TSharedPtr<IBridgeMocapListener, ESPMode::ThreadSafe> Pinned = Weak.Pin())
			{
				Listeners.Add(MoveTemp(Pinned));
			}
		}
	}
	for (const TSharedPtr<IBridgeMocapListener, ESPMode::ThreadSafe>& Listener : Listeners)
	{
		Listener->HandleConnection_AnyThread(bConnected);
	}
}

void FBridgeWorker::AddMocapListener(const TSharedRef<IBridgeMocapListener, ESPMode::ThreadSafe>& Listener)
{
	FScopeLock Lock(&ListenersLock);
	MocapListeners.Add(Listener);
}

void FBridgeWorker::RemoveMocapListener(const IBridgeMocapListener* Listener)
{
	FScopeLock Lock(&ListenersLock);
	MocapListeners.RemoveAll([Listener](const TWeakPtr<IBridgeMocapListener, ESPMode::ThreadSafe>& Weak)
	{
		const TSharedPtr<IBridgeMocapListener, ESPMode::ThreadSafe> Pinned = Weak.Pin();
		return !Pinned.IsValid() || Pinned.Get() == Listener;
	});
}

void FBridgeWorker::PushEvent(FBridgeGameThreadEvent&& Event)
{
	FScopeLock Lock(&EventsLock);
	if (Events.Num() >= 1024)
	{
		Events.RemoveAt(0); // a game thread that stopped ticking must not grow this forever
	}
	Events.Add(MoveTemp(Event));
}

void FBridgeWorker::TakeGameThreadEvents(TArray<FBridgeGameThreadEvent>& Out)
{
	FScopeLock Lock(&EventsLock);
	Out = MoveTemp(Events);
	Events.Reset();
}
