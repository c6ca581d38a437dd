// Sound beside the pictures (docs/protocol.md 6.1 and 6.14): the audio format a stream declares
// in HELLO (the declaration's `audio` map) and AUDIO, one chunk of interleaved signed 16-bit
// little-endian PCM in one binary part.  t_capture_ns is on the same engine clock as FRAME's,
// which is what lets the server record sound and pictures of a take in sync.  Field order is
// the canonical key order; checks and codes follow bridge/protocol/audio_messages.py.
//
// Included by Protocol/Messages.h (Audio is one of the message kinds); plain C++17.
#pragma once

#include <cstdint>
#include <string>

#include "Protocol/ByteView.h"
#include "Protocol/Msgpack.h"
#include "Protocol/ProtocolErrors.h"

namespace mbridge {
namespace protocol {

constexpr uint32_t kMinAudioSampleRateHz = 8000;
constexpr uint32_t kMaxAudioSampleRateHz = 192000;
constexpr uint32_t kMaxAudioChannels = 8;
constexpr uint32_t kAudioBytesPerSample = 2;  // signed 16-bit little-endian

// The `audio` map of a stream declaration: what every AUDIO chunk of the stream carries.
struct AudioFormat {
    uint32_t sample_rate_hz = 48000;
    uint32_t channels = 2;

    // Empty when inside the protocol's ranges, else the reason it is not.
    std::string problem() const;
    std::string describe() const;  // "48000 Hz x 2"
    MsgpackValue toWire() const;
    bool operator==(const AudioFormat& other) const {
        return sample_rate_hz == other.sample_rate_hz && channels == other.channels;
    }
    bool operator!=(const AudioFormat& other) const { return !(*this == other); }
};

// Engine -> server: one chunk of a stream's sound, `samples` sample frames of `channels` each.
struct Audio {
    static constexpr const char* kKind = "AUDIO";
    uint16_t stream = 0;
    uint64_t index = 0;         // strictly increasing per stream; gaps mean lost chunks
    uint64_t t_capture_ns = 0;  // the engine's monotonic clock at the first sample (FRAME's clock)
    uint32_t sample_rate_hz = 48000;
    uint32_t channels = 2;
    uint32_t samples = 0;  // sample frames in `pcm`: 1..sample_rate_hz (at most one second)
    // samples * channels * 2 bytes of interleaved s16le (L0 R0 L1 R1 ...); not owned: parsing points
    // it into the received part, a sender into a buffer it keeps alive until the send.
    ByteView pcm;

    AudioFormat format() const { return AudioFormat{sample_rate_hz, channels}; }
    uint64_t byteLength() const { return static_cast<uint64_t>(samples) * channels * kAudioBytesPerSample; }
    // How long the chunk plays, from t_capture_ns.
    uint64_t durationNs() const;
    // Sample `frame` of `channel` (no bounds check beyond the view's size: 0 outside it).
    int16_t sample(size_t frame, size_t channel) const;
    // False with BAD_FIELD / PLANE_MISMATCH (naming stream and index) for the first value out of
    // range or a part of the wrong size: the checks a receiver makes.
    bool validate(ProtocolError& error) const;
    MsgpackValue toHeader() const;
};

}  // namespace protocol
}  // namespace mbridge
