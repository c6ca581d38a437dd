// What the inspector shows per stream: frames sent and dropped (and why), RESULTs received,
// round-trip latency percentiles and recent rates. Written by the capture code and the
// session worker, read by the editor: every member is guarded by one lock.
using System;
using System.Collections.Generic;

namespace MachinimaBridge.Core
{
    /// <summary>The last <c>capacity</c> samples, with percentiles computed on demand.</summary>
    public sealed class LatencyWindow
    {
        private readonly double[] _samples;
        private int _next;
        private int _count;

        public LatencyWindow(int capacity = 256)
        {
            if (capacity < 1) throw new ArgumentOutOfRangeException("capacity", "capacity must be at least 1");
            _samples = new double[capacity];
        }

        public int Count { get { return _count; } }

        public void Add(double value)
        {
            _samples[_next] = value;
            _next = (_next + 1) % _samples.Length;
            if (_count < _samples.Length) _count++;
        }

        public void Clear()
        {
            _next = 0;
            _count = 0;
        }

        /// <summary>Percentile <paramref name="p"/> in 0..100 with linear interpolation; NaN when empty.</summary>
        public double Percentile(double p)
        {
            if (_count == 0) return double.NaN;
            var sorted = new double[_count];
            Array.Copy(_samples, sorted, _count);
            Array.Sort(sorted);
            return PercentileOfSorted(sorted, p);
        }

        public static double PercentileOfSorted(IList<double> sorted, double p)
        {
            if (sorted.Count == 0) return double.NaN;
            double rank = Math.Max(0.0, Math.Min(100.0, p)) / 100.0 * (sorted.Count - 1);
            int lo = (int)Math.Floor(rank);
            int hi = Math.Min(sorted.Count - 1, lo + 1);
            double frac = rank - lo;
            return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
        }
    }

    /// <summary>Events per second over the last second, from event timestamps.</summary>
    public sealed class RateMeter
    {
        private const long WindowNs = 1000000000L;
        private readonly long[] _times;
        private int _next;
        private int _count;

        public RateMeter(int capacity = 1024)
        {
            _times = new long[capacity];
        }

        public void Mark(long nowNs)
        {
            _times[_next] = nowNs;
            _next = (_next + 1) % _times.Length;
            if (_count < _times.Length) _count++;
        }

        public double PerSecond(long nowNs)
        {
            int inWindow = 0;
            long oldest = nowNs;
            for (int i = 0; i < _count; i++)
            {
                long t = _times[(_next - 1 - i + _times.Length) % _times.Length];
                if (nowNs - t > WindowNs) break;
                inWindow++;
                oldest = t;
            }
            if (inWindow < 2) return inWindow;
            // Full buffer inside the window: rate from the span the buffer covers.
            if (inWindow == _times.Length) return (inWindow - 1) * 1e9 / Math.Max(1, nowNs - oldest);
            return inWindow;
        }
    }

    public struct StreamCountersSnapshot
    {
        public long FramesSubmitted;
        public long FramesSent;
        public long FramesReplacedBeforeSend;
        public long FramesRefusedQueueFull;
        public long FramesDroppedNotConnected;
        public long FramesTooLarge;
        public long ResultsReceived;
        public long ServerDropped;
        public long LastResultIndex;
        public long LastServerUs;
        public double RttMsP50;
        public double RttMsP95;
        public double RttMsP99;
        public double SentFps;
        public double ResultFps;
        /// <summary>AUDIO chunks offered (SubmitAudio), sent, and dropped before sending (offline, queue full, too large).</summary>
        public long AudioChunksSubmitted;
        public long AudioChunksSent;
        public long AudioChunksDropped;

        /// <summary>Frames that never reached the server (replaced, queue full, offline, too large).</summary>
        public long LocalDrops
        {
            get { return FramesReplacedBeforeSend + FramesRefusedQueueFull + FramesDroppedNotConnected + FramesTooLarge; }
        }
    }

    public sealed class StreamCounters
    {
        private readonly object _lock = new object();
        private readonly LatencyWindow _rttMs = new LatencyWindow();
        private readonly RateMeter _sent = new RateMeter();
        private readonly RateMeter _results = new RateMeter();
        private StreamCountersSnapshot _totals;

        public StreamCounters()
        {
            _totals.LastResultIndex = -1;
        }

        public void FrameSubmitted() { lock (_lock) _totals.FramesSubmitted++; }
        public void FrameReplaced() { lock (_lock) _totals.FramesReplacedBeforeSend++; }
        public void FrameRefusedQueueFull() { lock (_lock) _totals.FramesRefusedQueueFull++; }
        public void FrameDroppedNotConnected() { lock (_lock) _totals.FramesDroppedNotConnected++; }
        public void FrameTooLarge() { lock (_lock) _totals.FramesTooLarge++; }
        public void AudioSubmitted() { lock (_lock) _totals.AudioChunksSubmitted++; }
        public void AudioSent() { lock (_lock) _totals.AudioChunksSent++; }
        public void AudioDropped() { lock (_lock) _totals.AudioChunksDropped++; }

        public void FrameSent(long nowNs)
        {
            lock (_lock)
            {
                _totals.FramesSent++;
                _sent.Mark(nowNs);
            }
        }

        public void ResultReceived(long nowNs, long index, long tCaptureNs, long serverUs, long dropped)
        {
            lock (_lock)
            {
                _totals.ResultsReceived++;
                _totals.ServerDropped += dropped;
                _totals.LastResultIndex = index;
                _totals.LastServerUs = serverUs;
                _rttMs.Add((nowNs - tCaptureNs) / 1e6);
                _results.Mark(nowNs);
            }
        }

        public StreamCountersSnapshot Snapshot(long nowNs)
        {
            lock (_lock)
            {
                StreamCountersSnapshot s = _totals;
                s.RttMsP50 = _rttMs.Percentile(50);
                s.RttMsP95 = _rttMs.Percentile(95);
                s.RttMsP99 = _rttMs.Percentile(99);
                s.SentFps = _sent.PerSecond(nowNs);
                s.ResultFps = _results.PerSecond(nowNs);
                return s;
            }
        }
    }
}
