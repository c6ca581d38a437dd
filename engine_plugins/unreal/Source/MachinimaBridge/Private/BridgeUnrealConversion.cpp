// Conversions between Unreal types and the plain C++ protocol types.
#include "BridgeUnrealConversion.h"

namespace MachinimaBridge
{
using mbridge::protocol::MsgpackValue;

MsgpackValue ToMsgpack(const FBridgeParamValue& Value)
{
	switch (Value.Type)
	{
	case EBridgeParamType::Int:
		return MsgpackValue::integer(Value.IntValue);
	case EBridgeParamType::Bool:
		return MsgpackValue::boolean(Value.BoolValue);
	case EBridgeParamType::String:
		return MsgpackValue::str(ToStd(Value.StringValue));
	case EBridgeParamType::Floats:
	{
		MsgpackValue Items = MsgpackValue::array();
		Items.reserve(static_cast<size_t>(Value.FloatsValue.Num()));
		for (const float Item : Value.FloatsValue)
		{
			Items.push(MsgpackValue::float64(static_cast<double>(Item)));
		}
		return Items;
	}
	case EBridgeParamType::Float:
	default:
		return MsgpackValue::float64(Value.FloatValue);
	}
}

mbridge::protocol::PixelFormat ToPixelFormat(EBridgeColorFormat Format)
{
	return Format == EBridgeColorFormat::RGBA8 ? mbridge::protocol::PixelFormat::RGBA8 : mbridge::protocol::PixelFormat::BGRA8;
}

bool ToAudioFormat(const FBridgeAudioFormat& Format, mbridge::protocol::AudioFormat& Out, FString& OutError)
{
	if (Format.SampleRateHz < 8000 || Format.SampleRateHz > 192000 || Format.Channels < 1 || Format.Channels > 8)
	{
		OutError = FString::Printf(TEXT("audio %d Hz x %d is outside 8000..192000 Hz, 1..8 channels"), Format.SampleRateHz, Format.Channels);
		return false;
	}
	Out.sample_rate_hz = static_cast<uint32_t>(Format.SampleRateHz);
	Out.channels = static_cast<uint32_t>(Format.Channels);
	return true;
}

bool ToDeclaration(const FBridgeStreamSettings& Settings, mbridge::protocol::StreamDeclaration& Out, FString& OutError)
{
	if (Settings.StreamId < 0 || Settings.StreamId > 65535)
	{
		OutError = FString::Printf(TEXT("stream id %d is outside 0..65535"), Settings.StreamId);
		return false;
	}
	if (Settings.Width < 1 || Settings.Width > 16384 || Settings.Height < 1 || Settings.Height > 16384)
	{
		OutError = FString::Printf(TEXT("stream %d: %dx%d is outside 1..16384 px"), Settings.StreamId, Settings.Width, Settings.Height);
		return false;
	}
	if (!(Settings.FramesPerSecond > 0.0f && Settings.FramesPerSecond <= 1000.0f))
	{
		OutError = FString::Printf(TEXT("stream %d: %.3f fps is outside (0, 1000]"), Settings.StreamId, Settings.FramesPerSecond);
		return false;
	}
	Out = mbridge::protocol::StreamDeclaration{};
	Out.id = static_cast<uint16_t>(Settings.StreamId);
	Out.name = ToStd(Settings.Name);
	Out.width = static_cast<uint32_t>(Settings.Width);
	Out.height = static_cast<uint32_t>(Settings.Height);
	Out.color_format = ToPixelFormat(Settings.ColorFormat);
	if (Settings.bSendDepth)
	{
		Out.depth_format = mbridge::protocol::PixelFormat::F32;
	}
	Out.fps = static_cast<double>(Settings.FramesPerSecond);
	if (!Settings.Pipeline.IsEmpty())
	{
		Out.pipeline = ToStd(Settings.Pipeline);
	}
	return true;
}
}
