// A RESULT picture handed from the bridge's worker thread to the game thread (C++ only).
#pragma once

#include "CoreMinimal.h"
#include "PixelFormat.h"

#include <memory>

struct MACHINIMABRIDGE_API FBridgeResultFrame
{
	int32 StreamId = 0;
	int64 Index = 0;
	int32 Width = 0;
	int32 Height = 0;
	/** Bytes from one row to the next (RESULT planes may be padded). */
	int32 RowPitchBytes = 0;
	/** PF_B8G8R8A8 or PF_R8G8B8A8 (RGB8 results arrive converted to BGRA). */
	EPixelFormat PixelFormat = PF_B8G8R8A8;
	/** Row 0 is the top row.  Valid as long as Owner lives. */
	const uint8* Pixels = nullptr;
	/** Keeps Pixels alive: the received ZeroMQ parts (no copy) or a converted buffer. */
	std::shared_ptr<const void> Owner;
	/** Capture to arrival on the worker thread. */
	float RoundTripMs = 0.0f;
	/** The server repeated the previous picture (cadence stage). */
	bool bHeld = false;
	/** Frames the server dropped since the previous RESULT of this stream. */
	int64 Dropped = 0;
};

using FBridgeResultFramePtr = TSharedPtr<const FBridgeResultFrame, ESPMode::ThreadSafe>;
