// A Live Link source exposing the session's mocap performers as Live Link subjects.
//
// The server relays MOCAP poses (docs/protocol.md section 6.11) to engines whose HELLO lists
// the "mocap" capability; they arrive on the bridge's worker thread.  Each performer becomes a
// subject of the Animation role on the humanoid skeleton MOCAP uses: "Root" plus Unity's 55
// HumanBodyBones, parents first.  FLiveLinkSkeletonStaticData is pushed when a performer
// appears (and again when its blendshape names change; blendshapes are Live Link properties),
// then FLiveLinkAnimationFrameData per pose, with the *_AnyThread calls.  Bones a pose does not
// carry keep the T-pose (identity rotation, default offset), as the protocol says.
#pragma once

#include "CoreMinimal.h"
#include "BridgeMocapListener.h"
#include "ILiveLinkSource.h"
#include "Protocol/MocapPose.h"

#include <atomic>

class ILiveLinkClient;

class MACHINIMABRIDGE_API FBridgeLiveLinkSource final : public ILiveLinkSource, public IBridgeMocapListener
{
public:
	explicit FBridgeLiveLinkSource(const FString& InEndpoint);

	// ILiveLinkSource
	virtual void ReceiveClient(ILiveLinkClient* InClient, FGuid InSourceGuid) override;
	virtual bool IsSourceStillValid() const override;
	virtual bool RequestSourceShutdown() override;
	virtual FText GetSourceType() const override;
	virtual FText GetSourceMachineName() const override;
	virtual FText GetSourceStatus() const override;

	// IBridgeMocapListener (worker thread)
	virtual void HandleMocap_AnyThread(const std::shared_ptr<const mbridge::transport::ReceivedMessage>& Message) override;
	virtual void HandleConnection_AnyThread(bool bConnected) override;

	FGuid GetSourceGuid() const { return SourceGuid; }
	bool IsShutDown() const { return bShutDown.load(); }

	/** Pushes one performer's pose: static data first when the subject is new or its blendshapes changed. */
	void PushPose_AnyThread(const mbridge::protocol::MocapPose& Pose);

private:
	struct FSubjectState
	{
		TArray<FName> PropertyNames; // blendshape names last pushed as static data
	};

	FString Endpoint;
	FGuid SourceGuid;

	mutable FCriticalSection Lock; // guards Client, Subjects, LastProblem
	ILiveLinkClient* Client = nullptr;
	TMap<FName, FSubjectState> Subjects;
	FString LastProblem;

	std::atomic<bool> bShutDown{false};
	std::atomic<bool> bConnected{false};
	std::atomic<int64> PosesPushed{0};
};
