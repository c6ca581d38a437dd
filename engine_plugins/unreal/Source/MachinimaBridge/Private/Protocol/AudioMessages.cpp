// The audio format map and AUDIO (see Protocol/AudioMessages.h and Protocol/AudioParse.h).
#include "Protocol/AudioMessages.h"

#include "Protocol/AudioParse.h"
#include "Protocol/HeaderCodec.h"

namespace mbridge {
namespace protocol {

namespace {

constexpr uint64_t kMaxAudioStreamId = 65535;
constexpr uint64_t kMaxAudioU63 = 0x7fffffffffffffffULL;

// The receiver's checks of a chunk, in bridge/protocol/audio_messages.py's order: sample rate,
// channels, samples (BAD_FIELD), then the part's size (PLANE_MISMATCH).
bool checkChunk(int64_t rate, int64_t channels, int64_t samples, size_t bytes, ErrorCode& code, std::string& message) {
    if (rate < kMinAudioSampleRateHz || rate > kMaxAudioSampleRateHz) {
        code = ErrorCode::BadField;
        message = "AUDIO.sample_rate_hz " + std::to_string(rate) + " is outside " +
                  std::to_string(kMinAudioSampleRateHz) + ".." + std::to_string(kMaxAudioSampleRateHz);
        return false;
    }
    if (channels < 1 || channels > kMaxAudioChannels) {
        code = ErrorCode::BadField;
        message = "AUDIO.channels " + std::to_string(channels) + " is outside 1.." + std::to_string(kMaxAudioChannels);
        return false;
    }
    if (samples < 1 || samples > rate) {
        code = ErrorCode::BadField;
        message = "AUDIO.samples " + std::to_string(samples) + " is outside 1.." + std::to_string(rate) +
                  " (a chunk holds at most one second)";
        return false;
    }
    const uint64_t need = static_cast<uint64_t>(samples) * static_cast<uint64_t>(channels) * kAudioBytesPerSample;
    if (bytes != need) {
        code = ErrorCode::PlaneMismatch;
        message = "AUDIO part has " + std::to_string(bytes) + " bytes but " + std::to_string(samples) + " samples x " +
                  std::to_string(channels) + " channels of 16-bit PCM need " + std::to_string(need);
        return false;
    }
    return true;
}

}  // namespace

std::string AudioFormat::problem() const {
    if (sample_rate_hz < kMinAudioSampleRateHz || sample_rate_hz > kMaxAudioSampleRateHz) {
        return "sample_rate_hz " + std::to_string(sample_rate_hz) + " is outside " +
               std::to_string(kMinAudioSampleRateHz) + ".." + std::to_string(kMaxAudioSampleRateHz);
    }
    if (channels < 1 || channels > kMaxAudioChannels) {
        return "channels " + std::to_string(channels) + " is outside 1.." + std::to_string(kMaxAudioChannels);
    }
    return std::string();
}

std::string AudioFormat::describe() const {
    return std::to_string(sample_rate_hz) + " Hz x " + std::to_string(channels);
}

MsgpackValue AudioFormat::toWire() const {
    MsgpackValue out = MsgpackValue::map();
    out.reserve(2);
    out.append("sample_rate_hz", MsgpackValue::unsignedInteger(sample_rate_hz));
    out.append("channels", MsgpackValue::unsignedInteger(channels));
    return out;
}

uint64_t Audio::durationNs() const {
    return sample_rate_hz == 0 ? 0 : static_cast<uint64_t>(samples) * 1000000000ULL / sample_rate_hz;
}

int16_t Audio::sample(size_t frame, size_t channel) const {
    const size_t at = (frame * channels + channel) * kAudioBytesPerSample;
    if (pcm.data == nullptr || at + kAudioBytesPerSample > pcm.size) {
        return 0;
    }
    const auto bits = static_cast<uint16_t>(pcm.data[at] | (pcm.data[at + 1] << 8));
    return static_cast<int16_t>(bits);
}

bool Audio::validate(ProtocolError& error) const {
    ErrorCode code = ErrorCode::BadField;
    std::string message;
    if (checkChunk(sample_rate_hz, channels, samples, pcm.size, code, message)) {
        return true;
    }
    error = ProtocolError{code, message, kKind, stream, index};
    return false;
}

MsgpackValue Audio::toHeader() const {
    MsgpackValue out = MsgpackValue::map();
    out.reserve(8);
    out.append("v", MsgpackValue::integer(kProtocolVersion));
    out.append("kind", MsgpackValue::str(kKind));
    out.append("stream", MsgpackValue::unsignedInteger(stream));
    out.append("index", MsgpackValue::unsignedInteger(index));
    out.append("t_capture_ns", MsgpackValue::unsignedInteger(t_capture_ns));
    out.append("sample_rate_hz", MsgpackValue::unsignedInteger(sample_rate_hz));
    out.append("channels", MsgpackValue::unsignedInteger(channels));
    out.append("samples", MsgpackValue::unsignedInteger(samples));
    return out;
}

void parseAudioFormat(ParseContext& ctx, const MsgpackValue& value, const std::string& where, AudioFormat& out) {
    FieldReader r(ctx, value, where);
    out.sample_rate_hz =
        static_cast<uint32_t>(r.u64("sample_rate_hz", Need::Required, 0, kMinAudioSampleRateHz, kMaxAudioSampleRateHz));
    out.channels = static_cast<uint32_t>(r.u64("channels", Need::Required, 0, 1, kMaxAudioChannels));
}

void parseAudio(FieldReader& r, const std::vector<ByteView>& parts, Audio& out) {
    ParseContext& ctx = r.context();
    out.stream = static_cast<uint16_t>(r.u64("stream", Need::Required, 0, 0, kMaxAudioStreamId));
    out.index = r.u64("index", Need::Required, 0, 0, kMaxAudioU63);
    if (ctx.failed) {
        return;
    }
    ctx.stream = out.stream;  // every later error names the chunk
    ctx.index = out.index;
    out.t_capture_ns = r.u64("t_capture_ns", Need::Required, 0, 0, kMaxAudioU63);
    const int64_t rate = r.i64("sample_rate_hz");
    const int64_t channels = r.i64("channels");
    const int64_t samples = r.i64("samples");
    if (ctx.failed) {
        return;
    }
    if (parts.size() != 1) {
        ctx.fail(ErrorCode::PlaneMismatch,
                 "AUDIO carries exactly one binary part (the samples), got " + std::to_string(parts.size()));
        return;
    }
    ErrorCode code = ErrorCode::BadField;
    std::string message;
    if (!checkChunk(rate, channels, samples, parts[0].size, code, message)) {
        ctx.fail(code, message);
        return;
    }
    out.sample_rate_hz = static_cast<uint32_t>(rate);
    out.channels = static_cast<uint32_t>(channels);
    out.samples = static_cast<uint32_t>(samples);
    out.pcm = parts[0];
}

}  // namespace protocol
}  // namespace mbridge
