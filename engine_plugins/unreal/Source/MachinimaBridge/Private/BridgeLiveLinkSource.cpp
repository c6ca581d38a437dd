// Live Link source for the session's mocap performers (see BridgeLiveLinkSource.h).
#include "BridgeLiveLinkSource.h"

#include "BridgeUnrealConversion.h"
#include "ILiveLinkClient.h"
#include "LiveLinkTypes.h"
#include "MachinimaBridgeModule.h"
#include "Protocol/HumanoidSkeleton.h"
#include "Protocol/SpaceConversion.h"
#include "Roles/LiveLinkAnimationRole.h"
#include "Roles/LiveLinkAnimationTypes.h"
#include "Transport/BridgeSocket.h"

#define LOCTEXT_NAMESPACE "MachinimaBridgeLiveLink"

using namespace mbridge;

namespace
{
/** Subject skeleton: "Root" (the pose's root transform), then the humanoid bones parents first. */
struct FHumanoidLiveLinkSkeleton
{
	TArray<FName> BoneNames;
	TArray<int32> BoneParents;
	TArray<int32> HumanBoneOfSlot; // -1 for Root
	TArray<int32> SlotOfHumanBone; // HumanBodyBones index -> slot

	FHumanoidLiveLinkSkeleton()
	{
		SlotOfHumanBone.Init(INDEX_NONE, static_cast<int32>(protocol::kHumanBoneCount));
		BoneNames.Add(TEXT("Root"));
		BoneParents.Add(INDEX_NONE);
		HumanBoneOfSlot.Add(INDEX_NONE);
		for (const size_t Bone : protocol::humanBonesParentFirst())
		{
			const int32 Slot = BoneNames.Num();
			SlotOfHumanBone[static_cast<int32>(Bone)] = Slot;
			BoneNames.Add(FName(ANSI_TO_TCHAR(protocol::humanBoneName(Bone))));
			const int Parent = protocol::humanBoneParent(Bone);
			BoneParents.Add(Parent < 0 ? 0 : SlotOfHumanBone[Parent]); // Hips hangs under Root
			HumanBoneOfSlot.Add(static_cast<int32>(Bone));
		}
	}

	static const FHumanoidLiveLinkSkeleton& Get()
	{
		static const FHumanoidLiveLinkSkeleton Skeleton;
		return Skeleton;
	}
};

FTransform ToUnrealTransform(const std::array<double, 3>& PositionM, const std::array<double, 4>& RotationXyzw)
{
	// MOCAP space (Unity: left-handed, Y up, metres) -> Unreal (left-handed, Z up, centimetres).
	const std::array<double, 3> Location = protocol::unrealPositionFromUnity(PositionM);
	const std::array<double, 4> Rotation = protocol::unrealRotationFromUnity(RotationXyzw);
	FQuat Quat(Rotation[0], Rotation[1], Rotation[2], Rotation[3]);
	Quat.Normalize();
	return FTransform(Quat, FVector(Location[0], Location[1], Location[2]), FVector::OneVector);
}
}

FBridgeLiveLinkSource::FBridgeLiveLinkSource(const FString& InEndpoint)
	: Endpoint(InEndpoint)
{
}

void FBridgeLiveLinkSource::ReceiveClient(ILiveLinkClient* InClient, FGuid InSourceGuid)
{
	FScopeLock ScopeLock(&Lock);
	Client = InClient;
	SourceGuid = InSourceGuid;
}

bool FBridgeLiveLinkSource::IsSourceStillValid() const
{
	return !bShutDown.load() && bConnected.load();
}

bool FBridgeLiveLinkSource::RequestSourceShutdown()
{
	// The subsystem drops shut-down listeners from the worker; pushes racing with this see Client == nullptr.
	bShutDown = true;
	FScopeLock ScopeLock(&Lock);
	Client = nullptr;
	Subjects.Reset();
	return true;
}

FText FBridgeLiveLinkSource::GetSourceType() const
{
	return LOCTEXT("SourceType", "Machinima Bridge");
}

FText FBridgeLiveLinkSource::GetSourceMachineName() const
{
	return FText::FromString(Endpoint);
}

FText FBridgeLiveLinkSource::GetSourceStatus() const
{
	if (!bConnected.load())
	{
		return LOCTEXT("StatusDisconnected", "Not connected");
	}
	FScopeLock ScopeLock(&Lock);
	if (!LastProblem.IsEmpty())
	{
		return FText::FromString(LastProblem);
	}
	return PosesPushed.load() > 0 ? LOCTEXT("StatusActive", "Active") : LOCTEXT("StatusWaiting", "Waiting for performers");
}

void FBridgeLiveLinkSource::HandleConnection_AnyThread(bool bInConnected)
{
	bConnected = bInConnected;
}

void FBridgeLiveLinkSource::HandleMocap_AnyThread(const std::shared_ptr<const transport::ReceivedMessage>& Message)
{
	if (bShutDown.load())
	{
		return;
	}
	const protocol::Mocap* Mocap = std::get_if<protocol::Mocap>(&Message->message);
	if (Mocap == nullptr)
	{
		return;
	}
	protocol::MocapPose Pose;
	protocol::ProtocolError Error;
	if (!protocol::decodeMocapPose(*Mocap, Pose, Error))
	{
		const FString Problem = MachinimaBridge::ToFString(Error.describe());
		FScopeLock ScopeLock(&Lock);
		if (Problem != LastProblem)
		{
			UE_LOG(LogMachinimaBridge, Warning, TEXT("Live Link: MOCAP pose not shown: %s"), *Problem);
			LastProblem = Problem; // logged once per distinct cause, shown as the source status
		}
		return;
	}
	PushPose_AnyThread(Pose);
}

void FBridgeLiveLinkSource::PushPose_AnyThread(const protocol::MocapPose& Pose)
{
	const FHumanoidLiveLinkSkeleton& Skeleton = FHumanoidLiveLinkSkeleton::Get();
	FScopeLock ScopeLock(&Lock);
	if (Client == nullptr)
	{
		return;
	}
	const FName SubjectName(*MachinimaBridge::ToFString(Pose.performer));
	const FLiveLinkSubjectKey SubjectKey(SourceGuid, SubjectName);

	TArray<FName> PropertyNames;
	PropertyNames.Reserve(static_cast<int32>(Pose.blendshapes.size()));
	for (const auto& Shape : Pose.blendshapes)
	{
		PropertyNames.Add(FName(*MachinimaBridge::ToFString(Shape.first)));
	}
	FSubjectState* State = Subjects.Find(SubjectName);
	if (State == nullptr || State->PropertyNames != PropertyNames)
	{
		FLiveLinkStaticDataStruct StaticData(FLiveLinkSkeletonStaticData::StaticStruct());
		FLiveLinkSkeletonStaticData* SkeletonData = StaticData.Cast<FLiveLinkSkeletonStaticData>();
		SkeletonData->SetBoneNames(Skeleton.BoneNames);
		SkeletonData->SetBoneParents(Skeleton.BoneParents);
		SkeletonData->PropertyNames = PropertyNames;
		Client->PushSubjectStaticData_AnyThread(SubjectKey, ULiveLinkAnimationRole::StaticClass(), MoveTemp(StaticData));
		Subjects.FindOrAdd(SubjectName).PropertyNames = PropertyNames;
	}

	// Start from the T-pose (identity rotations, default offsets), then apply what the pose carries.
	TArray<std::array<double, 4>> Rotations;
	TArray<std::array<double, 3>> Positions;
	Rotations.Init({0.0, 0.0, 0.0, 1.0}, static_cast<int32>(protocol::kHumanBoneCount));
	Positions.SetNum(static_cast<int32>(protocol::kHumanBoneCount));
	for (int32 Bone = 0; Bone < static_cast<int32>(protocol::kHumanBoneCount); ++Bone)
	{
		Positions[Bone] = protocol::humanBoneTPoseOffsetM(static_cast<size_t>(Bone));
	}
	for (const auto& Entry : Pose.bone_rotations)
	{
		Rotations[protocol::humanBoneIndex(Entry.first)] = Entry.second; // names were checked by the decode
	}
	for (const auto& Entry : Pose.bone_positions_m)
	{
		Positions[protocol::humanBoneIndex(Entry.first)] = Entry.second;
	}

	FLiveLinkFrameDataStruct FrameData(FLiveLinkAnimationFrameData::StaticStruct());
	FLiveLinkAnimationFrameData* Animation = FrameData.Cast<FLiveLinkAnimationFrameData>();
	Animation->WorldTime = FPlatformTime::Seconds();
	Animation->MetaData.StringMetaData.Add(TEXT("source"), MachinimaBridge::ToFString(Pose.source));
	Animation->Transforms.Reserve(Skeleton.BoneNames.Num());
	Animation->Transforms.Add(ToUnrealTransform(Pose.root_position_m, Pose.root_rotation_xyzw));
	for (int32 Slot = 1; Slot < Skeleton.BoneNames.Num(); ++Slot)
	{
		const int32 Bone = Skeleton.HumanBoneOfSlot[Slot];
		Animation->Transforms.Add(ToUnrealTransform(Positions[Bone], Rotations[Bone]));
	}
	Animation->PropertyValues.Reserve(PropertyNames.Num());
	for (const auto& Shape : Pose.blendshapes)
	{
		Animation->PropertyValues.Add(static_cast<float>(Shape.second));
	}
	Client->PushSubjectFrameData_AnyThread(SubjectKey, MoveTemp(FrameData));
	++PosesPushed;
	LastProblem.Reset();
}

#undef LOCTEXT_NAMESPACE
