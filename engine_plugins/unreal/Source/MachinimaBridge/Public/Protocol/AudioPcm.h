// Engine sound to the wire's PCM (docs/protocol.md 6.14), in plain C++ so it is tested outside
// the engine: float samples in -1..1 (what Unreal's submix buffers hold) to signed 16-bit
// little-endian, a fixed channel layout from whatever the mixer renders, and AudioChunker, which
// cuts a stream of callbacks into timed chunks of a fixed length.
//
// Conversion: s16 = round(x * 32767), half to even, clamped to -32768..32767; NaN becomes 0 -- the
// rule of the Python side (bridge/simulated_sound.py) and the Unity package (Core/AudioPcm.cs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace mbridge {
namespace protocol {

int16_t floatToS16(float sample);

// `count` floats -> `count` s16 samples as little-endian bytes (2 * count bytes at `dst`).
void floatsToS16Le(const float* src, size_t count, uint8_t* dst);

// One sample of output channel `channel` of `target_channels` from the interleaved frame at
// `frame` (`source_channels` floats): the same channel when the source has it; mono out of
// several channels is their mean; a channel the source lacks repeats the source's last one.
float remixSample(const float* frame, uint32_t source_channels, uint32_t channel, uint32_t target_channels);

// Samples per chunk for a duration, at least 1 and at most one second.
uint32_t audioSamplesFor(uint32_t sample_rate_hz, double chunk_ms);

// Cuts a stream of float blocks (audio callbacks of any size and channel count) into chunks of
// `chunk_samples` frames of s16le PCM in the declared channel layout, and hands each finished
// chunk to the sink with its first sample's time.  Times come from a sample clock anchored at a
// callback's clock, so chunks are exactly samples / rate apart; when the callbacks' clock and the
// sample clock drift apart by more than resync_threshold_ns (a pause, a device change) the clock
// re-anchors and the partial chunk leaves as it is.  Not thread-safe: one audio thread writes.
class AudioChunker {
public:
    using Sink = std::function<void(uint64_t t_capture_ns, std::vector<uint8_t>&& pcm, uint32_t samples)>;

    // Arguments are checked by the caller (valid() tells): rate 8000..192000, channels 1..8,
    // chunk_samples 1..rate.
    AudioChunker(uint32_t sample_rate_hz, uint32_t channels, uint32_t chunk_samples, Sink sink);

    bool valid() const;
    uint32_t sampleRateHz() const { return sample_rate_hz_; }
    uint32_t channels() const { return channels_; }
    uint32_t chunkSamples() const { return chunk_samples_; }

    // `frames` interleaved frames of `source_channels` floats, the first playing at `now_ns`.
    void write(const float* data, size_t frames, uint32_t source_channels, int64_t now_ns);
    // Sends the partial chunk now (when stopping); nothing when empty.
    void flush();

    int64_t offset_ns = 0;                      // added to every chunk's time
    int64_t resync_threshold_ns = 100000000;    // 0.1 s
    uint64_t chunks_emitted = 0;
    uint64_t resyncs = 0;

private:
    int64_t sampleClockNs(uint64_t samples) const;
    void emit();

    uint32_t sample_rate_hz_;
    uint32_t channels_;
    uint32_t chunk_samples_;
    Sink sink_;
    std::vector<uint8_t> chunk_;
    uint32_t filled_ = 0;
    int64_t chunk_start_ns_ = 0;
    bool anchored_ = false;
    int64_t anchor_ns_ = 0;
    uint64_t samples_since_anchor_ = 0;
};

}  // namespace protocol
}  // namespace mbridge
