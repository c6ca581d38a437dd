// Receives MOCAP messages on the bridge's worker thread (the Live Link source implements it).
#pragma once

#include "CoreMinimal.h"

#include <memory>

namespace mbridge
{
namespace transport
{
struct ReceivedMessage;
}
}

class IBridgeMocapListener
{
public:
	virtual ~IBridgeMocapListener() = default;

	/** Called on the worker thread for every MOCAP message; must not block. */
	virtual void HandleMocap_AnyThread(const std::shared_ptr<const mbridge::transport::ReceivedMessage>& Message) = 0;

	/** Called on the worker thread when the session starts (true) or ends (false). */
	virtual void HandleConnection_AnyThread(bool bConnected) = 0;
};
