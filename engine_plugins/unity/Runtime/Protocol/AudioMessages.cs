// Sound beside the pictures (docs/protocol.md 6.1 and 6.14): the audio format a stream declares
// in HELLO (AudioFormat, the declaration's `audio` map) and AUDIO, one chunk of interleaved
// signed 16-bit little-endian PCM in one binary part. t_capture_ns is on the same engine clock
// as FRAME's, which is what lets the server record sound and pictures of a take in sync.
// Field order below is the canonical key order; checks and error codes follow
// bridge/protocol/audio_messages.py.
using System;
using System.Collections.Generic;

namespace MachinimaBridge.Protocol
{
    public static class AudioLimits
    {
        public const long MinSampleRateHz = 8000;
        public const long MaxSampleRateHz = 192000;
        public const long MaxChannels = 8;
        /// <summary>Signed 16-bit little-endian samples.</summary>
        public const int BytesPerSample = 2;
    }

    /// <summary>The <c>audio</c> map of a stream declaration: what every AUDIO chunk of the stream carries.</summary>
    public sealed class AudioFormat : IEquatable<AudioFormat>
    {
        public long SampleRateHz = 48000;
        public long Channels = 2;

        public AudioFormat()
        {
        }

        public AudioFormat(long sampleRateHz, long channels)
        {
            SampleRateHz = sampleRateHz;
            Channels = channels;
        }

        /// <summary>Null when the format is inside the protocol's ranges, else the reason it is not.</summary>
        public string Problem()
        {
            if (SampleRateHz < AudioLimits.MinSampleRateHz || SampleRateHz > AudioLimits.MaxSampleRateHz)
            {
                return "sample_rate_hz " + SampleRateHz + " is outside " + AudioLimits.MinSampleRateHz + ".." + AudioLimits.MaxSampleRateHz;
            }
            if (Channels < 1 || Channels > AudioLimits.MaxChannels)
            {
                return "channels " + Channels + " is outside 1.." + AudioLimits.MaxChannels;
            }
            return null;
        }

        public MsgPackMap ToWire()
        {
            return new MsgPackMap(2).Add("sample_rate_hz", SampleRateHz).Add("channels", Channels);
        }

        public static AudioFormat FromWire(FieldReader r)
        {
            return new AudioFormat
            {
                SampleRateHz = r.Int("sample_rate_hz", AudioLimits.MinSampleRateHz, AudioLimits.MaxSampleRateHz),
                Channels = r.Int("channels", 1, AudioLimits.MaxChannels),
            };
        }

        public bool Equals(AudioFormat other)
        {
            return other != null && other.SampleRateHz == SampleRateHz && other.Channels == Channels;
        }

        public override bool Equals(object obj)
        {
            return Equals(obj as AudioFormat);
        }

        public override int GetHashCode()
        {
            return (int)(SampleRateHz * 31 + Channels);
        }

        public override string ToString()
        {
            return SampleRateHz + " Hz x " + Channels;
        }
    }

    /// <summary>Engine -> server: one chunk of a stream's sound, <see cref="Samples"/> sample frames of <see cref="Channels"/> each.</summary>
    public sealed class Audio : BridgeMessage
    {
        public override string Kind { get { return MessageKinds.Audio; } }

        public long Stream;
        /// <summary>Chunk number, strictly increasing per stream (gaps mean lost chunks).</summary>
        public long Index;
        /// <summary>The engine's monotonic clock at the chunk's first sample (the clock of FRAME.t_capture_ns).</summary>
        public long TCaptureNs;
        public long SampleRateHz;
        public long Channels;
        /// <summary>Sample frames (samples per channel) in <see cref="Pcm"/>: 1..SampleRateHz (at most one second).</summary>
        public long Samples;
        /// <summary>Samples * Channels * 2 bytes of interleaved little-endian signed 16-bit PCM (L0 R0 L1 R1 ...).</summary>
        public byte[] Pcm = new byte[0];

        public AudioFormat Format { get { return new AudioFormat(SampleRateHz, Channels); } }

        public long ByteLength { get { return Samples * Channels * AudioLimits.BytesPerSample; } }

        /// <summary>How long the chunk plays, from <see cref="TCaptureNs"/>.</summary>
        public long DurationNs { get { return SampleRateHz > 0 ? Samples * 1000000000L / SampleRateHz : 0; } }

        /// <summary>
        /// A chunk from <paramref name="sampleFrames"/> interleaved frames of <paramref name="interleaved"/>
        /// (copied into little-endian bytes); throws ProtocolException naming the first value out of range.
        /// </summary>
        public static Audio FromSamples(long stream, long index, long tCaptureNs, long sampleRateHz, int channels,
                                        short[] interleaved, int sampleFrames)
        {
            if (interleaved == null) throw new ArgumentNullException("interleaved");
            if (channels < 1 || sampleFrames < 0 || (long)sampleFrames * channels > interleaved.Length)
            {
                throw new ArgumentException(sampleFrames + " frames of " + channels + " channels need "
                    + ((long)sampleFrames * channels) + " samples, the array holds " + interleaved.Length);
            }
            int count = sampleFrames * channels;
            var pcm = new byte[count * AudioLimits.BytesPerSample];
            for (int i = 0; i < count; i++)
            {
                short s = interleaved[i];
                pcm[2 * i] = (byte)(s & 0xff);
                pcm[2 * i + 1] = (byte)((s >> 8) & 0xff);
            }
            var chunk = new Audio
            {
                Stream = stream, Index = index, TCaptureNs = tCaptureNs, SampleRateHz = sampleRateHz,
                Channels = channels, Samples = sampleFrames, Pcm = pcm,
            };
            chunk.Validate();
            return chunk;
        }

        /// <summary>Sample <paramref name="frame"/> of <paramref name="channel"/>.</summary>
        public short Sample(long frame, long channel)
        {
            long i = (frame * Channels + channel) * AudioLimits.BytesPerSample;
            return (short)(Pcm[i] | (Pcm[i + 1] << 8));
        }

        /// <summary>Every sample, interleaved.</summary>
        public short[] ToInterleaved()
        {
            var samples = new short[Pcm.Length / AudioLimits.BytesPerSample];
            for (int i = 0; i < samples.Length; i++) samples[i] = (short)(Pcm[2 * i] | (Pcm[2 * i + 1] << 8));
            return samples;
        }

        /// <summary>Throws ProtocolException (naming stream and index) for the first value out of range or a part of the wrong size.</summary>
        public void Validate()
        {
            if (SampleRateHz < AudioLimits.MinSampleRateHz || SampleRateHz > AudioLimits.MaxSampleRateHz)
            {
                throw Fail(ErrorCode.BAD_FIELD, "AUDIO.sample_rate_hz " + SampleRateHz + " is outside "
                           + AudioLimits.MinSampleRateHz + ".." + AudioLimits.MaxSampleRateHz);
            }
            if (Channels < 1 || Channels > AudioLimits.MaxChannels)
            {
                throw Fail(ErrorCode.BAD_FIELD, "AUDIO.channels " + Channels + " is outside 1.." + AudioLimits.MaxChannels);
            }
            if (Samples < 1 || Samples > SampleRateHz)
            {
                throw Fail(ErrorCode.BAD_FIELD, "AUDIO.samples " + Samples + " is outside 1.." + SampleRateHz
                           + " (a chunk holds at most one second)");
            }
            long length = Pcm == null ? 0 : Pcm.Length;
            if (length != ByteLength)
            {
                throw Fail(ErrorCode.PLANE_MISMATCH, "AUDIO part has " + length + " bytes but " + Samples + " samples x "
                           + Channels + " channels of 16-bit PCM need " + ByteLength);
            }
        }

        private ProtocolException Fail(ErrorCode code, string message)
        {
            return new ProtocolException(code, message, MessageKinds.Audio, Stream, Index);
        }

        public override MsgPackMap ToHeader()
        {
            return Base(8)
                .Add("stream", Stream)
                .Add("index", Index)
                .Add("t_capture_ns", TCaptureNs)
                .Add("sample_rate_hz", SampleRateHz)
                .Add("channels", Channels)
                .Add("samples", Samples);
        }

        public override IList<byte[]> BinaryParts()
        {
            return new[] { Pcm };
        }

        public static Audio FromHeader(FieldReader r, IList<byte[]> parts)
        {
            long stream = r.Int("stream", 0, ProtocolLimits.MaxStreamId);
            long index = r.Int("index", 0, ProtocolLimits.MaxU63);
            var chunk = new Audio { Stream = stream, Index = index };
            try
            {
                chunk.TCaptureNs = r.Int("t_capture_ns", 0, ProtocolLimits.MaxU63);
                chunk.SampleRateHz = r.Int("sample_rate_hz");
                chunk.Channels = r.Int("channels");
                chunk.Samples = r.Int("samples");
            }
            catch (ProtocolException e)
            {
                // name the chunk the bad field belongs to
                throw new ProtocolException(e.Code, e.Detail, MessageKinds.Audio, stream, index);
            }
            if (parts.Count != 1)
            {
                throw chunk.Fail(ErrorCode.PLANE_MISMATCH, "AUDIO carries exactly one binary part (the samples), got " + parts.Count);
            }
            chunk.Pcm = parts[0];
            chunk.Validate();
            return chunk;
        }
    }
}
