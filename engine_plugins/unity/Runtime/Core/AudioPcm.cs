// Engine sound to the wire's PCM (docs/protocol.md 6.14): float samples in -1..1 (what Unity's
// OnAudioFilterRead and most mixers give) to signed 16-bit little-endian, and a fixed channel
// layout from whatever the mixer produces.
//
// Conversion: s16 = round(x * 32767), half to even, clamped to -32768..32767; NaN becomes 0.
// The same rule as the Python side (bridge/simulated_sound.py: np.clip(np.round(x * 32767))) and
// the Unreal plugin (Protocol/AudioPcm.h), so one float gives the same sample everywhere.
using System;

namespace MachinimaBridge.Core
{
    public static class AudioPcm
    {
        public const double FullScale = 32767.0;

        /// <summary>One float sample (-1..1 is full scale) as a signed 16-bit sample, clamped.</summary>
        public static short FloatToS16(float sample)
        {
            double scaled = sample * FullScale; // in double: every float times 32767 is exact here
            if (double.IsNaN(scaled)) return 0;
            if (scaled >= 32767.0) return short.MaxValue;
            if (scaled <= -32768.0) return short.MinValue;
            return (short)Math.Round(scaled, MidpointRounding.ToEven);
        }

        /// <summary>Converts <paramref name="count"/> floats to s16 into <paramref name="target"/> at <paramref name="targetOffset"/>.</summary>
        public static void FloatsToS16(float[] source, int sourceOffset, short[] target, int targetOffset, int count)
        {
            CheckRange(source.Length, sourceOffset, count, "source");
            CheckRange(target.Length, targetOffset, count, "target");
            for (int i = 0; i < count; i++) target[targetOffset + i] = FloatToS16(source[sourceOffset + i]);
        }

        /// <summary>Converts <paramref name="count"/> floats to little-endian s16 bytes (2 per sample) at <paramref name="byteOffset"/>.</summary>
        public static void FloatsToS16Bytes(float[] source, int sourceOffset, byte[] target, int byteOffset, int count)
        {
            CheckRange(source.Length, sourceOffset, count, "source");
            CheckRange(target.Length, byteOffset, count * 2, "target");
            for (int i = 0; i < count; i++)
            {
                short s = FloatToS16(source[sourceOffset + i]);
                target[byteOffset + 2 * i] = (byte)(s & 0xff);
                target[byteOffset + 2 * i + 1] = (byte)((s >> 8) & 0xff);
            }
        }

        /// <summary>
        /// One output sample of channel <paramref name="channel"/> of <paramref name="targetChannels"/> from the
        /// frame at <paramref name="frameOffset"/> of <paramref name="sourceChannels"/> interleaved floats:
        /// the same channel when the source has it; mono out of several channels is their mean; a
        /// channel the source lacks repeats the source's last channel (mono fills every speaker).
        /// </summary>
        public static float Remix(float[] source, int frameOffset, int sourceChannels, int channel, int targetChannels)
        {
            if (sourceChannels == targetChannels) return source[frameOffset + channel];
            if (targetChannels == 1)
            {
                double sum = 0;
                for (int c = 0; c < sourceChannels; c++) sum += source[frameOffset + c];
                return (float)(sum / sourceChannels);
            }
            return source[frameOffset + Math.Min(channel, sourceChannels - 1)];
        }

        /// <summary>Channel count of a speaker layout name as Unity's AudioSpeakerMode calls them.</summary>
        public static int ChannelsOfSpeakerMode(string speakerMode)
        {
            switch (speakerMode)
            {
                case "Mono": return 1;
                case "Stereo": return 2;
                case "Prologic": return 2;
                case "Quad": return 4;
                case "Surround": return 5;
                case "Mode5point1": return 6;
                case "Mode7point1": return 8;
                default: throw new ArgumentException("unknown speaker mode '" + speakerMode + "'");
            }
        }

        private static void CheckRange(int length, int offset, int count, string what)
        {
            if (offset < 0 || count < 0 || (long)offset + count > length)
            {
                throw new ArgumentOutOfRangeException(what, what + " has " + length + " entries; " + count + " from " + offset + " do not fit");
            }
        }
    }
}
