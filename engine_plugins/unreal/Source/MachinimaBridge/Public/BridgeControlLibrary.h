// Blueprint functions to change pipeline parameters live (CONTROL, docs/protocol.md section 6.5)
// and to start and stop takes (docs/takes.md).
//
// Each returns the CONTROL's request id; the subsystem's OnControlAck reports whether the server
// applied it (and the value it applied).  Parameter names and ranges per stage are listed by
// `machinima-bridge pipelines --params` and in docs/pipeline.md.
#pragma once

#include "CoreMinimal.h"
#include "Kismet/BlueprintFunctionLibrary.h"
#include "MachinimaBridgeTypes.h"

#include "BridgeControlLibrary.generated.h"

UCLASS()
class MACHINIMABRIDGE_API UBridgeControlLibrary : public UBlueprintFunctionLibrary
{
	GENERATED_BODY()

public:
	/** e.g. Stage "stylize", Param "strength", Value 0.5, GlideMs 500. */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge|Control", meta = (WorldContext = "WorldContextObject"))
	static int64 SetStageFloat(const UObject* WorldContextObject, int32 StreamId, const FString& Stage, const FString& Param, double Value, float GlideMs = 0.0f);

	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge|Control", meta = (WorldContext = "WorldContextObject"))
	static int64 SetStageInt(const UObject* WorldContextObject, int32 StreamId, const FString& Stage, const FString& Param, int64 Value);

	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge|Control", meta = (WorldContext = "WorldContextObject"))
	static int64 SetStageBool(const UObject* WorldContextObject, int32 StreamId, const FString& Stage, const FString& Param, bool Value);

	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge|Control", meta = (WorldContext = "WorldContextObject"))
	static int64 SetStageString(const UObject* WorldContextObject, int32 StreamId, const FString& Stage, const FString& Param, const FString& Value);

	/** e.g. Param "style_weights" with 26 weights, gliding from one look to another. */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge|Control", meta = (WorldContext = "WorldContextObject"))
	static int64 SetStageFloats(const UObject* WorldContextObject, int32 StreamId, const FString& Stage, const FString& Param, const TArray<float>& Values, float GlideMs = 0.0f);

	/** Several parameters of one stage in one CONTROL (applied together). */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge|Control", meta = (WorldContext = "WorldContextObject"))
	static int64 SetStageParams(const UObject* WorldContextObject, int32 StreamId, const FString& Stage, const TMap<FString, FBridgeParamValue>& Params, float GlideMs = 0.0f);

	/** Starts recording a take named Name (empty: the server names it); the subsystem's OnTakeAck answers. 0: not sent (see the log). */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge|Take", meta = (WorldContext = "WorldContextObject"))
	static int64 StartTake(const UObject* WorldContextObject, const FString& Name);

	/** Stops the take the server is recording; the subsystem's OnTakeAck answers. 0: not sent. */
	UFUNCTION(BlueprintCallable, Category = "Machinima Bridge|Take", meta = (WorldContext = "WorldContextObject"))
	static int64 StopTake(const UObject* WorldContextObject);

	/** The server's take state (whoever started the take); bKnown false without a connection or before the server said anything. */
	UFUNCTION(BlueprintPure, Category = "Machinima Bridge|Take", meta = (WorldContext = "WorldContextObject"))
	static FBridgeTakeState GetTakeState(const UObject* WorldContextObject);

	/** Whether Name may name a take (1..128 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit); OutProblem says why not. */
	UFUNCTION(BlueprintPure, Category = "Machinima Bridge|Take")
	static bool CheckTakeName(const FString& Name, FString& OutProblem);

	UFUNCTION(BlueprintPure, Category = "Machinima Bridge|Control")
	static FBridgeParamValue MakeFloatParam(double Value);

	UFUNCTION(BlueprintPure, Category = "Machinima Bridge|Control")
	static FBridgeParamValue MakeIntParam(int64 Value);

	UFUNCTION(BlueprintPure, Category = "Machinima Bridge|Control")
	static FBridgeParamValue MakeBoolParam(bool Value);

	UFUNCTION(BlueprintPure, Category = "Machinima Bridge|Control")
	static FBridgeParamValue MakeStringParam(const FString& Value);

	UFUNCTION(BlueprintPure, Category = "Machinima Bridge|Control")
	static FBridgeParamValue MakeFloatsParam(const TArray<float>& Values);

private:
	static int64 Send(const UObject* WorldContextObject, int32 StreamId, const FString& Stage, const TMap<FString, FBridgeParamValue>& Params, float GlideMs);
};
