// AUDIO and the stream's audio format (docs/protocol.md 6.1, 6.14) beyond what the golden vectors
// pin: field checks and their codes, typed round trips, the float -> s16 conversion (clamping and
// rounding), channel remixing, cutting a sound into timed chunks, and the session-side checks a
// chunk must pass before it is queued.
using System;
using System.Collections.Generic;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;
using NUnit.Framework;

namespace MachinimaBridge.Tests
{
    [TestFixture]
    public class AudioTests
    {
        private static MsgPackMap AudioHeader(long samples = 4, long rate = 48000, long channels = 2)
        {
            return new MsgPackMap().Add("v", 1L).Add("kind", "AUDIO").Add("stream", 3L).Add("index", 9L)
                .Add("t_capture_ns", 1000L).Add("sample_rate_hz", rate).Add("channels", channels).Add("samples", samples);
        }

        private static ProtocolException FailureOf(MsgPackMap header, params byte[][] parts)
        {
            var all = new List<byte[]> { MsgPackWriter.Encode(header) };
            all.AddRange(parts);
            try
            {
                MessageCodec.Parse(all);
            }
            catch (ProtocolException e)
            {
                return e;
            }
            Assert.Fail("parsing succeeded: " + header);
            return null;
        }

        // ------------------------------------------------------------------ message rules

        [Test]
        public void AChunkBuiltFromSamplesRoundTripsWithItsSamples()
        {
            short[] samples = { 0, -1, 32767, -32768, 12345, -12345 };
            Audio chunk = Audio.FromSamples(2, 40, 1700000000000000000L, 44100, 2, samples, 3);
            Assert.AreEqual(12, chunk.Pcm.Length);
            Assert.AreEqual(new byte[] { 0x00, 0x00, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x80 }, new List<byte>(chunk.Pcm).GetRange(0, 8).ToArray());
            var back = (Audio)MessageCodec.Parse(MessageCodec.Serialize(chunk));
            Assert.AreEqual(2L, back.Stream);
            Assert.AreEqual(40L, back.Index);
            Assert.AreEqual(1700000000000000000L, back.TCaptureNs);
            Assert.AreEqual(new AudioFormat(44100, 2), back.Format);
            Assert.AreEqual(3L, back.Samples);
            Assert.AreEqual(samples, back.ToInterleaved());
            Assert.AreEqual((short)-32768, back.Sample(1, 1));
            Assert.AreEqual(3L * 1000000000L / 44100, back.DurationNs);
            // canonical key order
            var keys = new List<string>();
            foreach (KeyValuePair<string, MsgPackValue> e in chunk.ToHeader()) keys.Add(e.Key);
            Assert.AreEqual(new[] { "v", "kind", "stream", "index", "t_capture_ns", "sample_rate_hz", "channels", "samples" }, keys.ToArray());
        }

        [Test]
        public void OutOfRangeChunkFieldsAreBadFieldNamingStreamAndIndex()
        {
            var cases = new[]
            {
                new { Header = AudioHeader(rate: 7999), Bytes = 16, Word = "sample_rate_hz" },
                new { Header = AudioHeader(rate: 192001), Bytes = 16, Word = "sample_rate_hz" },
                new { Header = AudioHeader(channels: 0), Bytes = 16, Word = "channels" },
                new { Header = AudioHeader(channels: 9), Bytes = 4 * 9 * 2, Word = "channels" },
                new { Header = AudioHeader(samples: 0), Bytes = 0, Word = "samples" },
                new { Header = AudioHeader(samples: 48001), Bytes = 48001 * 4, Word = "one second" },
            };
            foreach (var c in cases)
            {
                ProtocolException e = FailureOf(c.Header, new byte[c.Bytes]);
                Assert.AreEqual(ErrorCode.BAD_FIELD, e.Code, c.Header.ToString());
                StringAssert.Contains(c.Word, e.Detail);
                Assert.AreEqual("AUDIO", e.Kind);
                Assert.AreEqual(3L, e.Stream);
                Assert.AreEqual(9L, e.Index);
            }
            MsgPackMap missing = AudioHeader();
            var withoutChannels = new MsgPackMap();
            foreach (KeyValuePair<string, MsgPackValue> kv in missing) if (kv.Key != "channels") withoutChannels.Add(kv.Key, kv.Value);
            ProtocolException absent = FailureOf(withoutChannels, new byte[16]);
            Assert.AreEqual(ErrorCode.BAD_FIELD, absent.Code);
            StringAssert.Contains("channels is missing", absent.Detail);
            Assert.AreEqual(9L, absent.Index, "a missing field still names the chunk");
        }

        [Test]
        public void PartCountAndSizeAreCheckedAsPlaneMismatch()
        {
            ProtocolException none = FailureOf(AudioHeader());
            Assert.AreEqual(ErrorCode.PLANE_MISMATCH, none.Code);
            StringAssert.Contains("exactly one binary part", none.Detail);
            Assert.AreEqual(ErrorCode.PLANE_MISMATCH, FailureOf(AudioHeader(), new byte[8], new byte[8]).Code);
            ProtocolException odd = FailureOf(AudioHeader(), new byte[17]);
            Assert.AreEqual(ErrorCode.PLANE_MISMATCH, odd.Code);
            StringAssert.Contains("17 bytes", odd.Detail);
            StringAssert.Contains("need 16", odd.Detail);
            // the range checks come first (as in bridge/protocol/audio_messages.py)
            Assert.AreEqual(ErrorCode.BAD_FIELD, FailureOf(AudioHeader(channels: 0), new byte[3]).Code);
        }

        [Test]
        public void AStreamDeclaresItsAudioFormatAfterPipeline()
        {
            var hello = new Hello
            {
                Engine = "e",
                Streams =
                {
                    new StreamDeclaration { Id = 1, Name = "cam", Width = 8, Height = 4, Pipeline = "film", Audio = new AudioFormat(44100, 1) },
                    new StreamDeclaration { Id = 2, Name = "quiet", Width = 8, Height = 4 },
                },
                Capabilities = { "audio" },
            };
            var back = (Hello)MessageCodec.Parse(MessageCodec.Serialize(hello));
            Assert.AreEqual(new AudioFormat(44100, 1), back.Streams[0].Audio);
            Assert.IsNull(back.Streams[1].Audio);
            var keys = new List<string>();
            foreach (KeyValuePair<string, MsgPackValue> e in back.Streams[0].ToWire()) keys.Add(e.Key);
            Assert.AreEqual("pipeline", keys[keys.Count - 2]);
            Assert.AreEqual("audio", keys[keys.Count - 1]);

            foreach (AudioFormat bad in new[] { new AudioFormat(7999, 2), new AudioFormat(48000, 0), new AudioFormat(48000, 9) })
            {
                hello.Streams[0].Audio = bad;
                try
                {
                    MessageCodec.Parse(MessageCodec.Serialize(hello));
                    Assert.Fail("a HELLO declaring " + bad + " parsed");
                }
                catch (ProtocolException e)
                {
                    Assert.AreEqual(ErrorCode.BAD_FIELD, e.Code);
                    StringAssert.StartsWith("streams[0].audio.", e.Detail);
                }
                Assert.IsNotNull(bad.Problem());
            }
            Assert.IsNull(new AudioFormat(192000, 8).Problem());
        }

        // ------------------------------------------------------------------ float -> s16

        [Test]
        public void FloatToS16ScalesBy32767AndClamps()
        {
            Assert.AreEqual((short)0, AudioPcm.FloatToS16(0f));
            Assert.AreEqual((short)32767, AudioPcm.FloatToS16(1f));
            Assert.AreEqual((short)-32767, AudioPcm.FloatToS16(-1f), "-1 is -32767: the scale is symmetric");
            Assert.AreEqual((short)32767, AudioPcm.FloatToS16(1.5f), "above full scale clamps");
            Assert.AreEqual((short)-32768, AudioPcm.FloatToS16(-1.5f), "below clamps to the most negative sample");
            Assert.AreEqual((short)32767, AudioPcm.FloatToS16(float.PositiveInfinity));
            Assert.AreEqual((short)-32768, AudioPcm.FloatToS16(float.NegativeInfinity));
            Assert.AreEqual((short)0, AudioPcm.FloatToS16(float.NaN), "NaN is silence");
            Assert.AreEqual((short)-32768, AudioPcm.FloatToS16(-32768f / 32767f));
        }

        [Test]
        public void FloatToS16RoundsToNearestAndHalvesToEven()
        {
            // 0.5 * 32767 = 16383.5 is the only exact tie a float in -1..1 can give; it goes to the even 16384
            Assert.AreEqual((short)16384, AudioPcm.FloatToS16(0.5f), "16383.5 rounds to the even 16384");
            Assert.AreEqual((short)-16384, AudioPcm.FloatToS16(-0.5f));
            Assert.AreEqual((short)8192, AudioPcm.FloatToS16(0.25f), "8191.75 rounds up");
            Assert.AreEqual((short)-8192, AudioPcm.FloatToS16(-0.25f));
            Assert.AreEqual((short)4096, AudioPcm.FloatToS16(0.125f), "4095.875 rounds up");
            Assert.AreEqual((short)1, AudioPcm.FloatToS16(0.6f / 32767f));
            Assert.AreEqual((short)0, AudioPcm.FloatToS16(0.4f / 32767f));
            Assert.AreEqual((short)-1, AudioPcm.FloatToS16(-0.6f / 32767f));
        }

        [Test]
        public void FloatsToS16BytesWritesLittleEndianAndChecksRanges()
        {
            var bytes = new byte[6];
            AudioPcm.FloatsToS16Bytes(new[] { 9f, 1f, -1f, 0.5f }, 1, bytes, 0, 3);
            Assert.AreEqual(new byte[] { 0xff, 0x7f, 0x01, 0x80, 0x00, 0x40 }, bytes);
            var shorts = new short[2];
            AudioPcm.FloatsToS16(new[] { -2f, 0.25f }, 0, shorts, 0, 2);
            Assert.AreEqual(new short[] { -32768, 8192 }, shorts);
            Assert.Throws<ArgumentOutOfRangeException>(() => AudioPcm.FloatsToS16Bytes(new float[4], 0, new byte[6], 0, 4));
            Assert.Throws<ArgumentOutOfRangeException>(() => AudioPcm.FloatsToS16(new float[2], 1, new short[2], 0, 2));
        }

        [Test]
        public void RemixKeepsSharedChannelsAveragesToMonoAndSpreadsMono()
        {
            float[] stereo = { 0.2f, 0.6f };
            Assert.AreEqual(0.4f, AudioPcm.Remix(stereo, 0, 2, 0, 1), 1e-7, "stereo to mono is the mean");
            Assert.AreEqual(0.6f, AudioPcm.Remix(stereo, 0, 2, 1, 2));
            float[] mono = { -0.3f };
            Assert.AreEqual(-0.3f, AudioPcm.Remix(mono, 0, 1, 0, 2));
            Assert.AreEqual(-0.3f, AudioPcm.Remix(mono, 0, 1, 1, 2), "mono fills both speakers");
            float[] surround = { 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f };
            Assert.AreEqual(0.2f, AudioPcm.Remix(surround, 0, 6, 1, 2), "5.1 to stereo keeps front left and right");
            Assert.AreEqual(2, AudioPcm.ChannelsOfSpeakerMode("Stereo"));
            Assert.AreEqual(6, AudioPcm.ChannelsOfSpeakerMode("Mode5point1"));
            Assert.AreEqual(8, AudioPcm.ChannelsOfSpeakerMode("Mode7point1"));
            Assert.Throws<ArgumentException>(() => AudioPcm.ChannelsOfSpeakerMode("Raw"));
        }

        // ------------------------------------------------------------------ chunks

        private sealed class Collected
        {
            public readonly List<long> Times = new List<long>();
            public readonly List<byte[]> Pcm = new List<byte[]>();
            public readonly List<int> Samples = new List<int>();

            public void Add(long t, byte[] pcm, int samples)
            {
                Times.Add(t);
                Pcm.Add(pcm);
                Samples.Add(samples);
            }
        }

        [Test]
        public void TheChunkerCutsEvenChunksStampedOnTheSampleClock()
        {
            var got = new Collected();
            var chunker = new AudioChunker(48000, 2, AudioChunker.SamplesFor(48000, 10), got.Add);
            Assert.AreEqual(480, chunker.ChunkSamples);
            // mono blocks of 256 frames at a jittery callback clock: ramp values k / 32767
            long start = 5000000000L;
            int k = 0;
            for (int block = 0; block < 8; block++)
            {
                var data = new float[256];
                for (int i = 0; i < 256; i++, k++) data[i] = (k % 1000) / 32767f;
                long jitterNs = block % 2 == 0 ? 2000000 : -1500000;
                chunker.Write(data, 256, 1, start + block * 256L * 1000000000L / 48000 + jitterNs);
            }
            Assert.AreEqual(4, got.Times.Count, "2048 frames make four chunks of 480 (128 left over)");
            Assert.AreEqual(0L, chunker.Resyncs);
            for (int c = 0; c < got.Times.Count; c++)
            {
                Assert.AreEqual(480, got.Samples[c]);
                Assert.AreEqual(480 * 2 * 2, got.Pcm[c].Length);
                // the first callback anchors the clock; chunks are exactly 10 ms apart from there
                Assert.AreEqual(start + 2000000 + c * 10000000L, got.Times[c]);
                for (int f = 0; f < 480; f += 97)
                {
                    int value = (c * 480 + f) % 1000;
                    Assert.AreEqual((short)value, (short)(got.Pcm[c][4 * f] | (got.Pcm[c][4 * f + 1] << 8)), "left of frame " + f);
                    Assert.AreEqual((short)value, (short)(got.Pcm[c][4 * f + 2] | (got.Pcm[c][4 * f + 3] << 8)), "mono spread to right");
                }
            }
            chunker.Flush();
            Assert.AreEqual(5, got.Times.Count);
            Assert.AreEqual(128, got.Samples[4]);
            Assert.AreEqual(128 * 4, got.Pcm[4].Length);
            chunker.Flush();
            Assert.AreEqual(5, got.Times.Count, "an empty chunk is never sent");
        }

        [Test]
        public void TheChunkerReanchorsAfterAGapAndSendsThePartialChunk()
        {
            var got = new Collected();
            var chunker = new AudioChunker(8000, 1, 80, got.Add) { OffsetNs = 7 };
            chunker.Write(new float[100], 100, 1, 1000000000L); // one chunk of 80 + 20 waiting
            Assert.AreEqual(1, got.Times.Count);
            chunker.Write(new float[10], 10, 1, 3000000000L); // two seconds later: a pause
            Assert.AreEqual(1L, chunker.Resyncs);
            Assert.AreEqual(2, got.Times.Count, "the 20 frames before the gap leave as a short chunk");
            Assert.AreEqual(20, got.Samples[1]);
            Assert.AreEqual(1000000000L + 80 * 125000L + 7, got.Times[1]);
            chunker.Write(new float[70], 70, 1, 3000000000L + 10 * 125000L);
            Assert.AreEqual(3, got.Times.Count);
            Assert.AreEqual(3000000000L + 7, got.Times[2], "after the gap the clock starts again at the callback");
            Assert.Throws<ArgumentOutOfRangeException>(() => new AudioChunker(48000, 2, 48001, got.Add));
            Assert.Throws<ArgumentOutOfRangeException>(() => new AudioChunker(7999, 2, 100, got.Add));
            Assert.Throws<ArgumentOutOfRangeException>(() => chunker.Write(new float[10], 6, 2, 0));
        }

        // ------------------------------------------------------------------ session-side checks

        [Test]
        public void TheOutboxChecksChunksAgainstTheDeclarationAndNumbersThem()
        {
            var streams = new List<StreamDeclaration>
            {
                new StreamDeclaration { Id = 0, Name = "cam", Width = 8, Height = 4, Audio = new AudioFormat(48000, 2) },
                new StreamDeclaration { Id = 1, Name = "quiet", Width = 8, Height = 4 },
            };
            var outbox = new AudioOutbox(streams, 2);
            Assert.AreEqual(new AudioFormat(48000, 2), outbox.FormatOf(0));
            Assert.IsNull(outbox.FormatOf(1));
            outbox.Check(0, 48000, 2, 960);
            StringAssert.Contains("not declared with audio", Assert.Throws<ArgumentException>(() => outbox.Check(1, 48000, 2, 960)).Message);
            StringAssert.Contains("declared 48000 Hz x 2", Assert.Throws<ArgumentException>(() => outbox.Check(0, 48000, 1, 960)).Message);
            Assert.Throws<ArgumentException>(() => outbox.Check(0, 44100, 2, 960));
            StringAssert.Contains("whole", Assert.Throws<ArgumentException>(() => outbox.Check(0, 48000, 2, 961)).Message);
            Assert.Throws<ArgumentException>(() => outbox.Check(0, 48000, 2, 0));
            StringAssert.Contains("one second", Assert.Throws<ArgumentException>(() => outbox.Check(0, 48000, 2, 2 * 48001)).Message);

            Assert.AreEqual(0L, outbox.TakeIndex(0));
            Assert.AreEqual(1L, outbox.TakeIndex(0));
            var a = new Audio { Stream = 0, Index = 0 };
            var b = new Audio { Stream = 0, Index = 1 };
            Assert.IsTrue(outbox.TryAdd(a));
            Assert.IsTrue(outbox.TryAdd(b));
            Assert.IsFalse(outbox.TryAdd(new Audio { Stream = 0, Index = 2 }), "full: a new chunk is refused");
            Assert.AreSame(a, outbox.Peek());
            outbox.RemoveFirst();
            Assert.AreSame(b, outbox.Peek());
            Assert.AreEqual(1, outbox.Clear().Count);
            Assert.IsNull(outbox.Peek());
            Assert.AreEqual(2L, outbox.TakeIndex(0), "indices keep increasing: gaps mark lost chunks");
        }
    }
}
