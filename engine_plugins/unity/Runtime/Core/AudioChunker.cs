// Cuts the engine's sound into AUDIO chunks of a fixed length (docs/protocol.md 6.14).
//
// The audio thread (Unity's OnAudioFilterRead, a mixer callback) hands over float blocks of any
// size and channel count, with the monotonic clock at the callback; the chunker remixes them to
// the declared channels, converts them to s16 and, each time a chunk is full, passes it to its
// sink (BridgeSession.SubmitAudioPcm, which queues it for the worker thread and never blocks).
//
// Timestamps: a chunk's t_capture_ns is its first sample's time on the sample clock, which
// counts samples from an anchor (the clock at a callback) so that chunks are exactly
// samples / rate apart; when the callbacks' clock and the sample clock drift apart by more than
// ResyncThresholdNs (a pause, a dropped buffer, a device change) the clock re-anchors on the
// callback and the partial chunk is sent as it is. Not thread-safe: one audio thread writes.
using System;

namespace MachinimaBridge.Core
{
    /// <summary>Receives one finished chunk: its first sample's time, interleaved s16le bytes, sample frames.</summary>
    public delegate void AudioChunkSink(long tCaptureNs, byte[] pcmS16, int samples);

    public sealed class AudioChunker
    {
        private readonly AudioChunkSink _sink;
        private byte[] _chunk;
        private int _filled;           // sample frames in _chunk
        private long _chunkStartNs;
        private bool _anchored;
        private long _anchorNs;
        private long _samplesSinceAnchor;

        public AudioChunker(int sampleRateHz, int channels, int chunkSamples, AudioChunkSink sink)
        {
            if (sampleRateHz < 8000 || sampleRateHz > 192000) throw new ArgumentOutOfRangeException("sampleRateHz", "sample rate " + sampleRateHz + " Hz is outside 8000..192000");
            if (channels < 1 || channels > 8) throw new ArgumentOutOfRangeException("channels", channels + " channels is outside 1..8");
            if (chunkSamples < 1 || chunkSamples > sampleRateHz) throw new ArgumentOutOfRangeException("chunkSamples", chunkSamples + " samples per chunk is outside 1.." + sampleRateHz + " (one second)");
            if (sink == null) throw new ArgumentNullException("sink");
            SampleRateHz = sampleRateHz;
            Channels = channels;
            ChunkSamples = chunkSamples;
            ResyncThresholdNs = 100000000L; // 0.1 s
            _sink = sink;
            _chunk = new byte[chunkSamples * channels * 2];
        }

        /// <summary>Samples per chunk for a duration, at least 1 and at most one second.</summary>
        public static int SamplesFor(int sampleRateHz, double chunkMs)
        {
            return (int)Math.Max(1, Math.Min(sampleRateHz, Math.Round(sampleRateHz * chunkMs / 1000.0)));
        }

        public int SampleRateHz { get; private set; }
        public int Channels { get; private set; }
        public int ChunkSamples { get; private set; }
        /// <summary>Drift between callback clock and sample clock beyond which the sample clock re-anchors.</summary>
        public long ResyncThresholdNs { get; set; }
        /// <summary>Added to every t_capture_ns (e.g. the output latency), nanoseconds.</summary>
        public long OffsetNs { get; set; }

        public long ChunksEmitted { get; private set; }
        public long SamplesWritten { get; private set; }
        public long Resyncs { get; private set; }

        private long SampleClockNs(long samples)
        {
            return _anchorNs + samples * 1000000000L / SampleRateHz;
        }

        /// <summary>
        /// Audio thread: <paramref name="frames"/> frames of <paramref name="sourceChannels"/> interleaved floats
        /// from <paramref name="data"/>, the first of which plays at <paramref name="nowNs"/> (MonotonicClock).
        /// </summary>
        public void Write(float[] data, int frames, int sourceChannels, long nowNs)
        {
            if (data == null) throw new ArgumentNullException("data");
            if (sourceChannels < 1) throw new ArgumentOutOfRangeException("sourceChannels", "a block needs at least one channel");
            if (frames < 0 || (long)frames * sourceChannels > data.Length)
            {
                throw new ArgumentOutOfRangeException("frames", frames + " frames of " + sourceChannels + " channels do not fit in " + data.Length + " floats");
            }
            if (!_anchored || Math.Abs(SampleClockNs(_samplesSinceAnchor) - nowNs) > ResyncThresholdNs)
            {
                if (_anchored)
                {
                    Resyncs++;
                    Flush();
                }
                _anchored = true;
                _anchorNs = nowNs;
                _samplesSinceAnchor = 0;
            }
            for (int f = 0; f < frames; f++)
            {
                if (_filled == 0) _chunkStartNs = SampleClockNs(_samplesSinceAnchor) + OffsetNs;
                int frameOffset = f * sourceChannels;
                int byteOffset = _filled * Channels * 2;
                for (int c = 0; c < Channels; c++)
                {
                    short s = AudioPcm.FloatToS16(AudioPcm.Remix(data, frameOffset, sourceChannels, c, Channels));
                    _chunk[byteOffset + 2 * c] = (byte)(s & 0xff);
                    _chunk[byteOffset + 2 * c + 1] = (byte)((s >> 8) & 0xff);
                }
                _filled++;
                _samplesSinceAnchor++;
                if (_filled == ChunkSamples) Emit();
            }
            SamplesWritten += frames;
        }

        /// <summary>Sends the partial chunk now (at a pause or when stopping); nothing when it is empty.</summary>
        public void Flush()
        {
            if (_filled == 0) return;
            if (_filled < ChunkSamples) Array.Resize(ref _chunk, _filled * Channels * 2);
            Emit();
        }

        private void Emit()
        {
            byte[] full = _chunk;
            int samples = _filled;
            long t = Math.Max(0, _chunkStartNs);
            _chunk = new byte[ChunkSamples * Channels * 2]; // the sink keeps the array it gets
            _filled = 0;
            ChunksEmitted++;
            _sink(t, full, samples);
        }
    }
}
