// The bridge's worker thread (FRunnable) around mbridge::transport::EngineLink.
//
// The link connects, says HELLO, keeps the session alive with heartbeats, reconnects with
// backoff and says BYE on shutdown; this class owns its thread, turns its callbacks into data
// the game thread picks up (latest RESULT per stream, queued events) and passes MOCAP to the
// registered listeners.  Every public method is thread-safe.
#pragma once

#include "CoreMinimal.h"
#include "BridgeMocapListener.h"
#include "BridgeResultFrame.h"
#include "HAL/CriticalSection.h"
#include "HAL/Runnable.h"
#include "MachinimaBridgeTypes.h"
#include "Transport/EngineLink.h"

#include <memory>

class FRunnableThread;

/** Something that happened on the worker thread, for the game thread's delegates. */
struct FBridgeGameThreadEvent
{
	enum class EType : uint8
	{
		Connected,
		Disconnected,
		ControlAck,
		Error,
		ServerStats,
		TakeAck,
		TakeState,
	};

	EType Type = EType::Error;
	FString Text;   // server name / reason / error name / ack reason
	FString Detail; // engine id / error message
	int64 RequestId = 0;
	bool bOk = false;
	int32 Code = 0;
	TArray<FBridgeServerStreamStats> Streams;
	FBridgeTakeAck Take;
	FBridgeTakeState TakeState;
};

class FBridgeWorker final : public FRunnable
{
public:
	FBridgeWorker(mbridge::transport::SessionConfig Config, mbridge::transport::LinkOptions Options);
	virtual ~FBridgeWorker() override;

	/** Starts the thread; false when the platform cannot create one. */
	bool Start();
	/** Asks the link to say BYE and stop, then waits for the thread (bounded by the BYE linger). */
	void Shutdown();

	// FRunnable
	virtual uint32 Run() override;
	virtual void Stop() override;

	// Any thread.
	void SubmitFrame(mbridge::protocol::Frame&& Frame, std::shared_ptr<const void> KeepAlive);
	/** One AUDIO chunk (interleaved s16le); the chunk index, or -1 with the cause in OutError when it was not queued. */
	int64 SubmitAudio(uint16 StreamId, uint64 TCaptureNs, std::vector<uint8_t>&& Pcm, uint32 SampleRateHz, uint32 Channels, FString& OutError);
	uint64 SubmitControl(uint16 StreamId, const std::string& Stage, mbridge::protocol::MsgpackValue Params, TOptional<double> GlideMs);
	/** A take start (empty Name: the server names it); 0 with the cause in OutError when the name breaks the take name rule. */
	uint64 StartTake(const FString& Name, FString& OutError);
	uint64 StopTake();
	void RequestStats();
	void SetStreams(std::vector<mbridge::protocol::StreamDeclaration> Streams);
	EBridgeConnectionState GetState() const;
	FBridgeLinkStats GetStats() const;
	FString GetEndpoint() const { return Endpoint; }

	/** The newest RESULT of a stream not taken yet (latest wins: older ones are dropped). */
	bool TakeLatestResult(int32 StreamId, FBridgeResultFramePtr& Out);

	void AddMocapListener(const TSharedRef<IBridgeMocapListener, ESPMode::ThreadSafe>& Listener);
	void RemoveMocapListener(const IBridgeMocapListener* Listener);

	/** Game thread: hands over the events queued since the last call, oldest first. */
	void TakeGameThreadEvents(TArray<FBridgeGameThreadEvent>& Out);

private:
	void OnResult(const std::shared_ptr<const mbridge::transport::ReceivedMessage>& Message);
	void OnMocap(const std::shared_ptr<const mbridge::transport::ReceivedMessage>& Message);
	void OnConnection(bool bConnected);
	void PushEvent(FBridgeGameThreadEvent&& Event);

	FString Endpoint;
	TUniquePtr<mbridge::transport::EngineLink> Link;
	FRunnableThread* Thread = nullptr;

	mutable FCriticalSection ResultsLock;
	TMap<int32, FBridgeResultFramePtr> LatestResults;

	FCriticalSection EventsLock;
	TArray<FBridgeGameThreadEvent> Events;

	FCriticalSection ListenersLock;
	TArray<TWeakPtr<IBridgeMocapListener, ESPMode::ThreadSafe>> MocapListeners;
};
