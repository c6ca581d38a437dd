// Sends what Unity hears as AUDIO beside a StreamCamera's FRAMEs (docs/protocol.md 6.14), for the
// server to record in sync with the pictures while a take is recording.
//
// Put it on the GameObject with the AudioListener (the game's whole mix) or with an AudioSource
// (one source, e.g. a microphone clip): Unity calls OnAudioFilterRead there, on its audio thread,
// with the samples about to be played. The component hands them to an AudioChunker (remix to the
// declared channels, float -> s16, fixed-length chunks stamped on the MonotonicClock the frames
// use), whose chunks go straight into the session's bounded AUDIO queue; the session's worker
// thread sends them. Nothing here blocks the audio thread or the game thread.
//
// The audio format (AudioSettings.outputSampleRate, the channels chosen here) is declared on the
// StreamCamera's stream by BridgeConnection when it builds its HELLO; enabling the component
// later, or a change of the output device's rate, makes the connection send a new HELLO.
using System;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;
using UnityEngine;

namespace MachinimaBridge
{
    [AddComponentMenu("Machinima Bridge/Audio Stream Sender")]
    public sealed class AudioStreamSender : MonoBehaviour
    {
        [Tooltip("The picture stream this sound belongs to: its HELLO declaration gets the audio format.")]
        public StreamCamera streamCamera;

        [Tooltip("Channels sent (1..8, remixed from what Unity plays); 0: as many as the project's speaker mode.")]
        [Range(0, 8)] public int channels;

        [Tooltip("Length of one AUDIO chunk. Shorter: less delay; longer: fewer messages.")]
        [Range(10, 100)] public int chunkMs = 20;

        [Tooltip("Added to every chunk's capture time, to line the sound up with the pictures (e.g. the output latency).")]
        public float offsetMs;

        [Tooltip("Silence the sound here after capturing it (send it without playing it).")]
        public bool muteLocally;

        /// <summary>The format this component declares (null while disabled).</summary>
        public AudioFormat DeclaredFormat { get; private set; }
        public long ChunksMade { get { AudioChunker c = _chunker; return c == null ? 0 : c.ChunksEmitted; } }
        public long ChunksSubmitted { get { return System.Threading.Interlocked.Read(ref _submitted); } }
        public long ChunksDropped { get { return System.Threading.Interlocked.Read(ref _dropped); } }
        public long ClockResyncs { get { AudioChunker c = _chunker; return c == null ? 0 : c.Resyncs; } }
        public string LastProblem { get; private set; }

        private volatile AudioChunker _chunker;
        private volatile BridgeSession _session; // set on the game thread, read on the audio thread
        private int _streamId;
        private int _sampleRateHz;
        private int _channels;
        private long _submitted;
        private long _dropped;
        private volatile string _audioThreadProblem;
        private bool _redeclareAsked;

        /// <summary>The audio format for the HELLO: the output sample rate and the channels chosen here.</summary>
        public AudioFormat BuildFormat()
        {
            int rate = AudioSettings.outputSampleRate;
            int count = channels;
            if (count <= 0)
            {
                try
                {
                    count = AudioPcm.ChannelsOfSpeakerMode(AudioSettings.speakerMode.ToString());
                }
                catch (ArgumentException)
                {
                    count = 2;
                }
            }
            return new AudioFormat(rate, Math.Min(8, count));
        }

        private void OnEnable()
        {
            if (GetComponent<AudioListener>() == null && GetComponent<AudioSource>() == null)
            {
                LastProblem = "needs an AudioListener or an AudioSource on the same GameObject: Unity passes sound only there";
                Debug.LogError("[machinima-bridge] " + name + ": AudioStreamSender " + LastProblem, this);
            }
            if (streamCamera == null) streamCamera = GetComponentInParent<StreamCamera>();
            if (streamCamera == null)
            {
                LastProblem = "no StreamCamera set: the sound must belong to a picture stream";
                Debug.LogError("[machinima-bridge] " + name + ": AudioStreamSender has " + LastProblem, this);
                enabled = false;
                return;
            }
            AudioFormat format = BuildFormat();
            if (format.Problem() != null)
            {
                LastProblem = "Unity's audio output cannot be declared: " + format.Problem();
                Debug.LogError("[machinima-bridge] " + name + ": " + LastProblem, this);
                enabled = false;
                return;
            }
            DeclaredFormat = format;
            _streamId = streamCamera.streamId;
            _sampleRateHz = (int)format.SampleRateHz;
            _channels = (int)format.Channels;
            _redeclareAsked = false;
            _chunker = new AudioChunker(_sampleRateHz, _channels, AudioChunker.SamplesFor(_sampleRateHz, chunkMs), Submit)
            {
                OffsetNs = (long)(offsetMs * 1e6),
            };
            AudioSettings.OnAudioConfigurationChanged += OnAudioConfigurationChanged;
        }

        private void OnDisable()
        {
            AudioSettings.OnAudioConfigurationChanged -= OnAudioConfigurationChanged;
            _chunker = null;
            _session = null;
            DeclaredFormat = null;
        }

        private void OnAudioConfigurationChanged(bool deviceWasChanged)
        {
            AudioFormat now = BuildFormat();
            if (now.Equals(DeclaredFormat)) return;
            // A new rate or speaker layout: declare it in a new HELLO.
            enabled = false;
            enabled = true;
            BridgeConnection conn = streamCamera.Connection;
            if (conn != null && conn.Session != null) conn.Connect();
        }

        private void Update()
        {
            BridgeConnection conn = streamCamera == null ? null : streamCamera.Connection;
            BridgeSession session = conn == null ? null : conn.Session;
            if (session != null && session.AudioFormatOf(_streamId) == null)
            {
                // Enabled after the HELLO was built: declare the sound with a new HELLO, once.
                session = null;
                if (!_redeclareAsked && conn.isActiveAndEnabled)
                {
                    _redeclareAsked = true;
                    conn.Connect();
                }
            }
            _session = session;
            string problem = _audioThreadProblem;
            if (problem != null)
            {
                _audioThreadProblem = null;
                LastProblem = problem;
                Debug.LogWarning("[machinima-bridge] " + name + ": " + problem, this);
            }
        }

        // Unity's audio thread: the samples about to be played, interleaved, `channelCount` per frame.
        private void OnAudioFilterRead(float[] data, int channelCount)
        {
            AudioChunker chunker = _chunker;
            if (chunker != null && channelCount > 0)
            {
                chunker.Write(data, data.Length / channelCount, channelCount, MonotonicClock.NowNs());
            }
            if (muteLocally) Array.Clear(data, 0, data.Length);
        }

        // Audio thread: one finished chunk.
        private void Submit(long tCaptureNs, byte[] pcm, int samples)
        {
            BridgeSession session = _session;
            if (session == null)
            {
                System.Threading.Interlocked.Increment(ref _dropped);
                return;
            }
            try
            {
                long index = session.SubmitAudioPcm(_streamId, tCaptureNs, pcm, _sampleRateHz, _channels);
                if (index < 0) System.Threading.Interlocked.Increment(ref _dropped);
                else System.Threading.Interlocked.Increment(ref _submitted);
            }
            catch (ArgumentException e)
            {
                // the session was rebuilt with another declaration; Update sorts it out
                System.Threading.Interlocked.Increment(ref _dropped);
                _audioThreadProblem = e.Message;
            }
        }
    }
}
