// Blueprint-facing types of the bridge: connection state, stream settings, statistics, CONTROL
// values, take answers and the delegates the subsystem fires on the game thread.
#pragma once

#include "CoreMinimal.h"

#include "MachinimaBridgeTypes.generated.h"

UENUM(BlueprintType)
enum class EBridgeConnectionState : uint8
{
	/** Not connected; waiting before the next attempt (or Connect not called). */
	Idle,
	/** HELLO sent, waiting for WELCOME. */
	Connecting,
	/** WELCOME received: frames and controls flow. */
	Connected,
	/** Disconnect was called. */
	Stopped,
};

/** Pixel layout of the colour plane a capture sends (docs/protocol.md section 5.2). */
UENUM(BlueprintType)
enum class EBridgeColorFormat : uint8
{
	/** B, G, R, A bytes: what an RTF_RGBA8 render target reads back as on every RHI (no swizzle). */
	BGRA8,
	RGBA8,
};

/** One stream declared in HELLO. */
USTRUCT(BlueprintType)
struct MACHINIMABRIDGE_API FBridgeStreamSettings
{
	GENERATED_BODY()

	/** 0..65535, unique per engine. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (ClampMin = "0", ClampMax = "65535"))
	int32 StreamId = 0;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	FString Name = TEXT("main");

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (ClampMin = "1", ClampMax = "16384", Units = "px"))
	int32 Width = 1280;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (ClampMin = "1", ClampMax = "16384", Units = "px"))
	int32 Height = 720;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (ClampMin = "0.1", ClampMax = "1000"))
	float FramesPerSecond = 30.0f;

	/** Server pipeline name ("default", "passthrough", "aged_archive", ...); empty: the server's default. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	FString Pipeline;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	EBridgeColorFormat ColorFormat = EBridgeColorFormat::BGRA8;

	/** Declares an F32 depth plane (metres) next to the colour. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	bool bSendDepth = false;
};

/** The sound a stream sends beside its pictures (docs/protocol.md 6.14): declared in HELLO, every AUDIO chunk has it. */
USTRUCT(BlueprintType)
struct MACHINIMABRIDGE_API FBridgeAudioFormat
{
	GENERATED_BODY()

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (ClampMin = "8000", ClampMax = "192000", Units = "Hz"))
	int32 SampleRateHz = 48000;

	/** Interleaved channels, 1..8. */
	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge", meta = (ClampMin = "1", ClampMax = "8"))
	int32 Channels = 2;
};

/** Counters of the connection (EngineLink's), for HUDs and debugging. */
USTRUCT(BlueprintType)
struct MACHINIMABRIDGE_API FBridgeLinkStats
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int64 FramesSubmitted = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int64 FramesSent = 0;

	/** A newer frame of the stream replaced this one before it was sent. */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int64 FramesReplaced = 0;

	/** Send queue full or not connected. */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int64 FramesSkipped = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int64 Results = 0;

	/** Frames the server dropped (latest frame wins), summed from RESULT.dropped. */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int64 ServerDropped = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int64 Errors = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int64 AudioChunksSent = 0;

	/** Chunks not sent: not connected, queue full, or not matching the stream's audio declaration. */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int64 AudioChunksDropped = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int32 Connects = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int32 Disconnects = 0;

	/** Capture to RESULT arrival, latest and over the last 256 RESULTs. */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge", meta = (Units = "ms"))
	float RoundTripMsLast = 0.0f;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge", meta = (Units = "ms"))
	float RoundTripMsP50 = 0.0f;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge", meta = (Units = "ms"))
	float RoundTripMsP95 = 0.0f;
};

UENUM(BlueprintType)
enum class EBridgeParamType : uint8
{
	Float,
	Int,
	Bool,
	String,
	Floats,
};

/** One CONTROL parameter value (docs/protocol.md section 6.5: a number, bool, string or array of numbers). */
USTRUCT(BlueprintType)
struct MACHINIMABRIDGE_API FBridgeParamValue
{
	GENERATED_BODY()

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	EBridgeParamType Type = EBridgeParamType::Float;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	double FloatValue = 0.0;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	int64 IntValue = 0;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	bool BoolValue = false;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	FString StringValue;

	UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Machinima Bridge")
	TArray<float> FloatsValue;
};

/** One stream of the server's STATS report (docs/protocol.md section 6.7). */
USTRUCT(BlueprintType)
struct MACHINIMABRIDGE_API FBridgeServerStreamStats
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int32 StreamId = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	FString Name;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int64 FramesIn = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int64 FramesOut = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	int64 Dropped = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	float FpsIn = 0.0f;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge")
	float FpsOut = 0.0f;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge", meta = (Units = "ms"))
	float LatencyMsP50 = 0.0f;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge", meta = (Units = "ms"))
	float LatencyMsP95 = 0.0f;
};

/**
 * The answer to StartTake / StopTake (docs/takes.md): the server's CONTROL_ACK of the stage "take",
 * read. Not ok: refused by the server (ErrorCode 11, BAD_PARAM_VALUE: a take is already recording,
 * none is, the name is taken) or lost (ErrorCode 0: not sent, or the connection went before the answer).
 */
USTRUCT(BlueprintType)
struct MACHINIMABRIDGE_API FBridgeTakeAck
{
	GENERATED_BODY()

	/** The request id StartTake / StopTake returned. */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take")
	int64 RequestId = 0;

	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take")
	bool bOk = false;

	/** True: the answer to a start; false: to a stop. */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take")
	bool bRecord = false;

	/** The take's name (the one asked for, or the one the server chose). */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take")
	FString TakeName;

	/** The take's folder on the server's machine. */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take")
	FString Path;

	/** On start: the SMPTE timecode of the take's first instant. */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take")
	FString Timecode;

	/** On stop: "stopping" (the writers are finishing), "complete", "failed", ... */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take")
	FString Status;

	/** On stop, when the take was finished at once: its length (else negative). */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take", meta = (Units = "s"))
	float DurationS = -1.0f;

	/** 0 when ok or when the request was lost; otherwise the protocol error code. */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take")
	int32 ErrorCode = 0;

	/** When not ok: why (the server's reason, or why the request was lost). On a failed recording: the failure. */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take")
	FString Reason;
};

/**
 * The server's take state (docs/protocol.md 6.13, STATE key "bridge.take"): whether a take is
 * recording, whoever started it (this engine, another, OSC, the server's command line). Comes
 * from the SESSION snapshot after every connect and from the server's STATE changes.
 */
USTRUCT(BlueprintType)
struct MACHINIMABRIDGE_API FBridgeTakeState
{
	GENERATED_BODY()

	/** False until the server said anything about takes (it tells after every connect). */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take")
	bool bKnown = false;

	/** True while the server records a take. */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take")
	bool bRecording = false;

	/** The take recording, or the last one recorded; empty when the server has recorded none yet. */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take")
	FString TakeName;

	/** While recording: the SMPTE timecode of the take's first instant (empty when not given). */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take")
	FString Timecode;

	/** After a stop: "stopping" (the writers are finishing), "complete", "failed", ... (empty when not given). */
	UPROPERTY(BlueprintReadOnly, Category = "Machinima Bridge|Take")
	FString Status;
};

DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FOnBridgeConnected, const FString&, ServerName, const FString&, EngineId);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FOnBridgeDisconnected, const FString&, Reason);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_FourParams(FOnBridgeControlAck, int64, RequestId, bool, bOk, int32, ErrorCode, const FString&, Reason);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FOnBridgeServerStats, const TArray<FBridgeServerStreamStats>&, Streams);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_ThreeParams(FOnBridgeError, int32, ErrorCode, const FString&, ErrorName, const FString&, Message);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FOnBridgeTakeAck, const FBridgeTakeAck&, Ack);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_OneParam(FOnBridgeTakeStateChanged, const FBridgeTakeState&, State);
