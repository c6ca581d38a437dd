// The engine's connection to the bridge server, one per game instance.
//
// Owns the worker thread (FBridgeWorker around the plain C++ EngineLink: connect, HELLO,
// heartbeats, reconnect, BYE on shutdown).  Capture components register their streams here
// (a change starts a new session with a new HELLO), submit FRAMEs from the render thread, and
// result components take the newest RESULT per stream on the game thread.  Audio components
// declare a stream's sound (SetStreamAudio) and submit its AUDIO chunks.  Events of the worker
// thread (connected, disconnected, CONTROL_ACK, take answers, the server's take state, ERROR,
// STATS) fire as Blueprint delegates on the game thread in Tick.  The connection declares the
// HELLO capability "session", so the server tells it whenever a take starts or stops, whoever
// started it (OnTakeStateChanged, GetTakeState).
#pragma once

#include "CoreMinimal.h"
#include "BridgeResultFrame.h"
#include "MachinimaBridgeTypes.h"
#include "Subsystems/GameInstanceSubsystem.h"
#include "Tickable.h"

#include <memory>
#include <vector>

#include "BridgeConnectionSubsystem.generated.h"

class FBridgeWorker;
class FBridgeLiveLinkSource;

namespace mbridge
{
namespace protocol
{
struct Frame;
struct StreamDeclaration;
}
}

UCLASS()
class MACHINIMABRIDGE_API UBridgeConnectionSubsystem : public UGameInstanceSubsystem, public FTickableGameObject
{
	GENERATED_BODY()

public:
	// USubsystem
	virtual void Initialize(FSubsystemCollectionBase& Collection) override;
	virtual void Deinitialize() override;

	// FTickableGameObject
	virtual void Tick(float DeltaTime) override;
	virtual TStatId GetStatId() const override;
	virtual ETickableTickType GetTickableTickType() const override;
	virtual bool IsTickableWhenPaused() const override { return true; }
	virtual bool IsTickableInEditor() const override { return false; }

	/** Connects to the endpoint in the project settings (Project Settings > Plugins > Machinima Bridge). */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge")
	void Connect();

	/** Connects to another endpoint (tcp://HOST:PORT). A running connection is closed first (BYE). */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge")
	void ConnectTo(const FString& Endpoint);

	/** Says BYE and stops the worker thread. Returns within the BYE linger (0.2 s). */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge")
	void Disconnect();

	UFUNCTION(BlueprintPure, Category = "Machinima Bridge")
	EBridgeConnectionState GetConnectionState() const;

	UFUNCTION(BlueprintPure, Category = "Machinima Bridge")
	FBridgeLinkStats GetLinkStats() const;

	/** Declares a stream (or replaces the one with the same id). Starts a new session (new HELLO) when connected. */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge")
	bool RegisterStream(const FBridgeStreamSettings& Stream);

	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge")
	void UnregisterStream(int32 StreamId);

	/**
	 * Declares that a stream also sends sound of this format (HELLO's stream declaration `audio`,
	 * docs/protocol.md 6.1). Starts a new session (new HELLO) when it changes. Kept apart from the
	 * stream's settings, so the capture and the audio components can register in any order.
	 */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge|Audio")
	bool SetStreamAudio(int32 StreamId, const FBridgeAudioFormat& Format);

	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge|Audio")
	void ClearStreamAudio(int32 StreamId);

	/**
	 * Sends CONTROL: new values for parameters of one stage of a stream's pipeline. Returns the
	 * request id (OnControlAck reports the outcome), or 0 when not connected. Values survive
	 * reconnects (they are sent again after every new WELCOME). GlideMs > 0 moves numeric values
	 * there linearly over that time.
	 */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge|Control")
	int64 SendControl(int32 StreamId, const FString& Stage, const TMap<FString, FBridgeParamValue>& Params, float GlideMs = 0.0f);

	/**
	 * Starts recording a take on the server (docs/takes.md: every engine's streams, controls, mocap
	 * and sound), named Name (empty: the server names it take-YYYYMMDD-HHMMSS). Returns the request id
	 * OnTakeAck answers (ok with the take's name, folder and start timecode, or refused: a take is
	 * already recording, the name is taken), or 0 when not connected or when Name breaks the take name
	 * rule (1..128 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit; the reason
	 * is logged; UBridgeControlLibrary::CheckTakeName tells it beforehand). Sent once connected, on the
	 * lowest registered stream, or on stream 0 when none is registered (a director console with no
	 * camera may start and stop takes); never replayed after a reconnect.
	 */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge|Take")
	int64 StartTake(const FString& Name);

	/** Stops the take the server is recording (whoever started it). Returns the request id OnTakeAck answers, or 0 when not connected. */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge|Take")
	int64 StopTake();

	/** The newest take answer (RequestId 0 before the first). */
	UFUNCTION(BlueprintPure, Category = "Machinima Bridge|Take")
	FBridgeTakeAck GetLastTakeAck() const { return LastTakeAck; }

	/**
	 * The server's take state as last heard: whether a take records, whoever started it (this engine,
	 * another, OSC, the server's command line). bKnown is false until the server said anything (it
	 * does after every connect).
	 */
	UFUNCTION(BlueprintPure, Category = "Machinima Bridge|Take")
	FBridgeTakeState GetTakeState() const { return TakeState; }

	/** Asks the server for a STATS report (arrives as OnServerStats). */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge")
	void RequestServerStats();

	/** Adds a Live Link source showing the session's mocap performers as subjects (asks the server for MOCAP). */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge|Live Link")
	bool AddLiveLinkSource();

	UPROPERTY(BlueprintAssignable, Category = "Machinima Bridge")
	FOnBridgeConnected OnConnected;

	UPROPERTY(BlueprintAssignable, Category = "Machinima Bridge")
	FOnBridgeDisconnected OnDisconnected;

	UPROPERTY(BlueprintAssignable, Category = "Machinima Bridge")
	FOnBridgeControlAck OnControlAck;

	UPROPERTY(BlueprintAssignable, Category = "Machinima Bridge")
	FOnBridgeError OnError;

	UPROPERTY(BlueprintAssignable, Category = "Machinima Bridge")
	FOnBridgeServerStats OnServerStats;

	/** The answer to every StartTake / StopTake (also when the request was lost). */
	UPROPERTY(BlueprintAssignable, Category = "Machinima Bridge|Take")
	FOnBridgeTakeAck OnTakeAck;

	/** A take started or stopped on the server, whoever started it; also the state found after a (re)connect when it differs. */
	UPROPERTY(BlueprintAssignable, Category = "Machinima Bridge|Take")
	FOnBridgeTakeStateChanged OnTakeStateChanged;

	// C++ only --------------------------------------------------------------------------------

	/** Any thread (the capture component calls it from the render thread). Dropped when not connected. */
	void SubmitFrame_AnyThread(mbridge::protocol::Frame&& Frame, std::shared_ptr<const void> KeepAlive);

	/**
	 * Game thread: queues one AUDIO chunk of a stream declared with SetStreamAudio (interleaved s16le,
	 * at most one second, first sample at TCaptureNs on the FRAME clock). Returns the chunk index, or
	 * -1 when it was not queued (not connected, queue full, not matching the declaration: see OutError).
	 */
	int64 SubmitAudio(int32 StreamId, uint64 TCaptureNs, std::vector<uint8_t>&& Pcm, const FBridgeAudioFormat& Format, FString& OutError);

	/** Game thread: the newest RESULT of a stream since the last call, if any. */
	bool TakeLatestResult(int32 StreamId, FBridgeResultFramePtr& OutFrame);

	/** Any thread. */
	TSharedPtr<FBridgeWorker, ESPMode::ThreadSafe> GetWorker() const { return Worker; }

	/** The declared settings of a stream (false when not registered). */
	bool GetStream(int32 StreamId, FBridgeStreamSettings& OutStream) const;

	static UBridgeConnectionSubsystem* Get(const UObject* WorldContextObject);

private:
	void StartWorker(const FString& Endpoint);
	void StopWorker();
	void PushStreamsToWorker();
	void DispatchEvents();

	TSharedPtr<FBridgeWorker, ESPMode::ThreadSafe> Worker;
	bool BuildDeclaration(const FBridgeStreamSettings& Stream, mbridge::protocol::StreamDeclaration& Out) const;

	TMap<int32, FBridgeStreamSettings> Streams;
	TMap<int32, FBridgeAudioFormat> StreamAudio;
	FBridgeTakeAck LastTakeAck;
	FBridgeTakeState TakeState;
	FString CurrentEndpoint;
	bool bWantsMocap = false;
	bool bWorkerHasAudioCapability = false;
	TArray<TSharedPtr<FBridgeLiveLinkSource, ESPMode::ThreadSafe>> LiveLinkSources;
};
