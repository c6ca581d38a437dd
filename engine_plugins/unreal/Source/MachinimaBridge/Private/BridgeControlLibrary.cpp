// Blueprint functions for CONTROL (see the header).
#include "BridgeControlLibrary.h"

#include "BridgeConnectionSubsystem.h"
#include "BridgeUnrealConversion.h"
#include "MachinimaBridgeModule.h"
#include "Protocol/TakeControl.h"

int64 UBridgeControlLibrary::Send(const UObject* WorldContextObject, int32 StreamId, const FString& Stage, const TMap<FString, FBridgeParamValue>& Params, float GlideMs)
{
	UBridgeConnectionSubsystem* Subsystem = UBridgeConnectionSubsystem::Get(WorldContextObject);
	if (Subsystem == nullptr)
	{
		UE_LOG(LogMachinimaBridge, Warning, TEXT("CONTROL for stage '%s' not sent: no game instance with a bridge connection"), *Stage);
		return 0;
	}
	return Subsystem->SendControl(StreamId, Stage, Params, GlideMs);
}

int64 UBridgeControlLibrary::SetStageFloat(const UObject* WorldContextObject, int32 StreamId, const FString& Stage, const FString& Param, double Value, float GlideMs)
{
	return Send(WorldContextObject, StreamId, Stage, {{Param, MakeFloatParam(Value)}}, GlideMs);
}

int64 UBridgeControlLibrary::SetStageInt(const UObject* WorldContextObject, int32 StreamId, const FString& Stage, const FString& Param, int64 Value)
{
	return Send(WorldContextObject, StreamId, Stage, {{Param, MakeIntParam(Value)}}, 0.0f);
}

int64 UBridgeControlLibrary::SetStageBool(const UObject* WorldContextObject, int32 StreamId, const FString& Stage, const FString& Param, bool Value)
{
	return Send(WorldContextObject, StreamId, Stage, {{Param, MakeBoolParam(Value)}}, 0.0f);
}

int64 UBridgeControlLibrary::SetStageString(const UObject* WorldContextObject, int32 StreamId, const FString& Stage, const FString& Param, const FString& Value)
{
	return Send(WorldContextObject, StreamId, Stage, {{Param, MakeStringParam(Value)}}, 0.0f);
}

int64 UBridgeControlLibrary::SetStageFloats(const UObject* WorldContextObject, int32 StreamId, const FString& Stage, const FString& Param, const TArray<float>& Values, float GlideMs)
{
	return Send(WorldContextObject, StreamId, Stage, {{Param, MakeFloatsParam(Values)}}, GlideMs);
}

int64 UBridgeControlLibrary::SetStageParams(const UObject* WorldContextObject, int32 StreamId, const FString& Stage, const TMap<FString, FBridgeParamValue>& Params, float GlideMs)
{
	return Send(WorldContextObject, StreamId, Stage, Params, GlideMs);
}

int64 UBridgeControlLibrary::StartTake(const UObject* WorldContextObject, const FString& Name)
{
	UBridgeConnectionSubsystem* Subsystem = UBridgeConnectionSubsystem::Get(WorldContextObject);
	if (Subsystem == nullptr)
	{
		UE_LOG(LogMachinimaBridge, Warning, TEXT("take '%s' not started: no game instance with a bridge connection"), *Name);
		return 0;
	}
	return Subsystem->StartTake(Name);
}

int64 UBridgeControlLibrary::StopTake(const UObject* WorldContextObject)
{
	UBridgeConnectionSubsystem* Subsystem = UBridgeConnectionSubsystem::Get(WorldContextObject);
	if (Subsystem == nullptr)
	{
		UE_LOG(LogMachinimaBridge, Warning, TEXT("take not stopped: no game instance with a bridge connection"));
		return 0;
	}
	return Subsystem->StopTake();
}

FBridgeTakeState UBridgeControlLibrary::GetTakeState(const UObject* WorldContextObject)
{
	const UBridgeConnectionSubsystem* Subsystem = UBridgeConnectionSubsystem::Get(WorldContextObject);
	return Subsystem != nullptr ? Subsystem->GetTakeState() : FBridgeTakeState();
}

bool UBridgeControlLibrary::CheckTakeName(const FString& Name, FString& OutProblem)
{
	std::string Problem;
	const bool bValid = mbridge::protocol::checkTakeName(MachinimaBridge::ToStd(Name), Problem);
	OutProblem = MachinimaBridge::ToFString(Problem);
	return bValid;
}

FBridgeParamValue UBridgeControlLibrary::MakeFloatParam(double Value)
{
	FBridgeParamValue Out;
	Out.Type = EBridgeParamType::Float;
	Out.FloatValue = Value;
	return Out;
}

FBridgeParamValue UBridgeControlLibrary::MakeIntParam(int64 Value)
{
	FBridgeParamValue Out;
	Out.Type = EBridgeParamType::Int;
	Out.IntValue = Value;
	return Out;
}

FBridgeParamValue UBridgeControlLibrary::MakeBoolParam(bool Value)
{
	FBridgeParamValue Out;
	Out.Type = EBridgeParamType::Bool;
	Out.BoolValue = Value;
	return Out;
}

FBridgeParamValue UBridgeControlLibrary::MakeStringParam(const FString& Value)
{
	FBridgeParamValue Out;
	Out.Type = EBridgeParamType::String;
	Out.StringValue = Value;
	return Out;
}

FBridgeParamValue UBridgeControlLibrary::MakeFloatsParam(const TArray<float>& Values)
{
	FBridgeParamValue Out;
	Out.Type = EBridgeParamType::Floats;
	Out.FloatsValue = Values;
	return Out;
}
