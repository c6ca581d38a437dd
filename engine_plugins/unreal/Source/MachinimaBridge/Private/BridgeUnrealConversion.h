// Conversions between Unreal types and the plain C++ protocol types (module-private).
#pragma once

#include "CoreMinimal.h"
#include "MachinimaBridgeTypes.h"
#include "Protocol/Messages.h"

#include <string>

namespace MachinimaBridge
{
inline std::string ToStd(const FString& Text)
{
	FTCHARToUTF8 Utf8(*Text);
	return std::string(Utf8.Get(), static_cast<size_t>(Utf8.Length()));
}

inline FString ToFString(const std::string& Text)
{
	FUTF8ToTCHAR Wide(Text.data(), static_cast<int32>(Text.size()));
	return FString(Wide.Length(), Wide.Get());
}

/** A CONTROL parameter value as its msgpack type (float64, int, bool, str, array of float64). */
mbridge::protocol::MsgpackValue ToMsgpack(const FBridgeParamValue& Value);

/** The protocol's audio format; false with the cause when out of range (8000..192000 Hz, 1..8 channels). */
bool ToAudioFormat(const FBridgeAudioFormat& Format, mbridge::protocol::AudioFormat& Out, FString& OutError);

/** A HELLO stream declaration; false with the cause when the settings are out of range. */
bool ToDeclaration(const FBridgeStreamSettings& Settings, mbridge::protocol::StreamDeclaration& Out, FString& OutError);

mbridge::protocol::PixelFormat ToPixelFormat(EBridgeColorFormat Format);
}
