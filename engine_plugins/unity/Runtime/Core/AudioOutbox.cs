// The AUDIO chunks a session has yet to send (docs/protocol.md 6.14): the audio format of each
// declared stream, the next chunk index per stream, and a bounded first-in first-out queue.
//
// Producers (the audio thread, any thread) check and add chunks; the session's worker thread
// takes them in order. Unlike frames, chunks are never replaced: each is a piece of the take's
// soundtrack. When the queue is full (the link is stalled) a new chunk is refused and counted;
// its index is used up all the same, so the server sees the gap where sound was lost.
using System;
using System.Collections.Generic;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Core
{
    public sealed class AudioOutbox
    {
        private readonly object _lock = new object();
        private readonly Queue<Audio> _queue = new Queue<Audio>();
        private readonly Dictionary<long, AudioFormat> _formats = new Dictionary<long, AudioFormat>();
        private readonly Dictionary<long, long> _nextIndex = new Dictionary<long, long>();
        private readonly int _capacity;

        /// <summary>The declared formats of <paramref name="streams"/> (those with audio); at most <paramref name="capacity"/> chunks wait.</summary>
        public AudioOutbox(IEnumerable<StreamDeclaration> streams, int capacity)
        {
            _capacity = Math.Max(1, capacity);
            foreach (StreamDeclaration s in streams)
            {
                if (s.Audio == null) continue;
                _formats[s.Id] = new AudioFormat(s.Audio.SampleRateHz, s.Audio.Channels);
                _nextIndex[s.Id] = 0;
            }
        }

        public int Capacity { get { return _capacity; } }

        public int Count { get { lock (_lock) return _queue.Count; } }

        /// <summary>The format stream <paramref name="stream"/> declared, or null when it carries no sound.</summary>
        public AudioFormat FormatOf(long stream)
        {
            AudioFormat format;
            return _formats.TryGetValue(stream, out format) ? format : null;
        }

        /// <summary>Throws ArgumentException naming what is wrong with a chunk of <paramref name="sampleCount"/> interleaved samples.</summary>
        public void Check(long stream, int sampleRateHz, int channels, long sampleCount)
        {
            AudioFormat declared = FormatOf(stream);
            if (declared == null)
            {
                throw new ArgumentException("stream " + stream + " was not declared with audio: set StreamDeclaration.Audio to send AUDIO");
            }
            if (declared.SampleRateHz != sampleRateHz || declared.Channels != channels)
            {
                throw new ArgumentException("AUDIO for stream " + stream + " is " + sampleRateHz + " Hz x " + channels
                                            + " but the stream was declared " + declared);
            }
            if (sampleCount == 0 || sampleCount % channels != 0)
            {
                throw new ArgumentException("AUDIO for stream " + stream + ": " + sampleCount + " samples is not a whole, non-zero number of "
                                            + channels + "-channel frames");
            }
            if (sampleCount / channels > sampleRateHz)
            {
                throw new ArgumentException("AUDIO for stream " + stream + ": " + sampleCount / channels + " frames is more than one second at "
                                            + sampleRateHz + " Hz; send shorter chunks");
            }
        }

        /// <summary>The next index of the stream (used up even when the chunk is then refused).</summary>
        public long TakeIndex(long stream)
        {
            lock (_lock)
            {
                long index = _nextIndex[stream];
                _nextIndex[stream] = index + 1;
                return index;
            }
        }

        /// <summary>Queues a checked chunk; false when the queue is full (the chunk is not kept).</summary>
        public bool TryAdd(Audio chunk)
        {
            lock (_lock)
            {
                if (_queue.Count >= _capacity) return false;
                _queue.Enqueue(chunk);
                return true;
            }
        }

        /// <summary>The oldest chunk, left in the queue (the worker removes it once sent); null when empty.</summary>
        public Audio Peek()
        {
            lock (_lock) return _queue.Count == 0 ? null : _queue.Peek();
        }

        /// <summary>Removes the oldest chunk (the one Peek returned: only the worker takes chunks out).</summary>
        public void RemoveFirst()
        {
            lock (_lock)
            {
                if (_queue.Count > 0) _queue.Dequeue();
            }
        }

        /// <summary>Empties the queue and returns what it held (a session that ended does not send its leftovers to the next).</summary>
        public List<Audio> Clear()
        {
            lock (_lock)
            {
                var left = new List<Audio>(_queue);
                _queue.Clear();
                return left;
            }
        }
    }
}
