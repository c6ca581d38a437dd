// Float -> s16 PCM, channel remixing and AudioChunker (see Protocol/AudioPcm.h).
#include "Protocol/AudioPcm.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "Protocol/AudioMessages.h"

namespace mbridge {
namespace protocol {

int16_t floatToS16(float sample) {
    const double scaled = static_cast<double>(sample) * 32767.0;  // exact in double for every float
    if (std::isnan(scaled)) {
        return 0;
    }
    if (scaled >= 32767.0) {
        return 32767;
    }
    if (scaled <= -32768.0) {
        return -32768;
    }
    return static_cast<int16_t>(std::nearbyint(scaled));  // the default rounding mode: half to even
}

void floatsToS16Le(const float* src, size_t count, uint8_t* dst) {
    for (size_t i = 0; i < count; ++i) {
        const auto bits = static_cast<uint16_t>(floatToS16(src[i]));
        dst[2 * i] = static_cast<uint8_t>(bits & 0xffu);
        dst[2 * i + 1] = static_cast<uint8_t>(bits >> 8);
    }
}

float remixSample(const float* frame, uint32_t source_channels, uint32_t channel, uint32_t target_channels) {
    if (source_channels == target_channels) {
        return frame[channel];
    }
    if (target_channels == 1) {
        double sum = 0.0;
        for (uint32_t c = 0; c < source_channels; ++c) {
            sum += static_cast<double>(frame[c]);
        }
        return static_cast<float>(sum / source_channels);
    }
    return frame[std::min(channel, source_channels - 1)];
}

uint32_t audioSamplesFor(uint32_t sample_rate_hz, double chunk_ms) {
    const double samples = std::round(static_cast<double>(sample_rate_hz) * chunk_ms / 1000.0);
    return static_cast<uint32_t>(std::max(1.0, std::min(static_cast<double>(sample_rate_hz), samples)));
}

AudioChunker::AudioChunker(uint32_t sample_rate_hz, uint32_t channels, uint32_t chunk_samples, Sink sink)
    : sample_rate_hz_(sample_rate_hz), channels_(channels), chunk_samples_(chunk_samples), sink_(std::move(sink)) {
    if (valid()) {
        chunk_.resize(static_cast<size_t>(chunk_samples_) * channels_ * kAudioBytesPerSample);
    }
}

bool AudioChunker::valid() const {
    return sample_rate_hz_ >= kMinAudioSampleRateHz && sample_rate_hz_ <= kMaxAudioSampleRateHz && channels_ >= 1 &&
           channels_ <= kMaxAudioChannels && chunk_samples_ >= 1 && chunk_samples_ <= sample_rate_hz_ &&
           static_cast<bool>(sink_);
}

int64_t AudioChunker::sampleClockNs(uint64_t samples) const {
    return anchor_ns_ + static_cast<int64_t>(samples * 1000000000ULL / sample_rate_hz_);
}

void AudioChunker::write(const float* data, size_t frames, uint32_t source_channels, int64_t now_ns) {
    if (!valid() || data == nullptr || source_channels == 0) {
        return;
    }
    const int64_t drift = anchored_ ? sampleClockNs(samples_since_anchor_) - now_ns : 0;
    if (!anchored_ || drift > resync_threshold_ns || drift < -resync_threshold_ns) {
        if (anchored_) {
            ++resyncs;
            flush();
        }
        anchored_ = true;
        anchor_ns_ = now_ns;
        samples_since_anchor_ = 0;
    }
    for (size_t f = 0; f < frames; ++f) {
        if (filled_ == 0) {
            chunk_start_ns_ = sampleClockNs(samples_since_anchor_) + offset_ns;
        }
        const float* frame = data + f * source_channels;
        uint8_t* out = chunk_.data() + static_cast<size_t>(filled_) * channels_ * kAudioBytesPerSample;
        for (uint32_t c = 0; c < channels_; ++c) {
            const auto bits = static_cast<uint16_t>(floatToS16(remixSample(frame, source_channels, c, channels_)));
            out[2 * c] = static_cast<uint8_t>(bits & 0xffu);
            out[2 * c + 1] = static_cast<uint8_t>(bits >> 8);
        }
        ++filled_;
        ++samples_since_anchor_;
        if (filled_ == chunk_samples_) {
            emit();
        }
    }
}

void AudioChunker::flush() {
    if (filled_ == 0) {
        return;
    }
    chunk_.resize(static_cast<size_t>(filled_) * channels_ * kAudioBytesPerSample);
    emit();
}

void AudioChunker::emit() {
    std::vector<uint8_t> full(static_cast<size_t>(chunk_samples_) * channels_ * kAudioBytesPerSample);
    full.swap(chunk_);  // the sink keeps the finished chunk; a fresh buffer fills next
    const uint32_t samples = filled_;
    filled_ = 0;
    ++chunks_emitted;
    sink_(static_cast<uint64_t>(std::max<int64_t>(0, chunk_start_ns_)), std::move(full), samples);
}

}  // namespace protocol
}  // namespace mbridge
