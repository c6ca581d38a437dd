// The engine's monotonic clock in nanoseconds: FRAME.t_capture_ns, HEARTBEAT.t_ns and the
// round-trip latency (clock at RESULT receipt minus t_capture_ns) all use it.
using System.Diagnostics;

namespace MachinimaBridge.Core
{
    public static class MonotonicClock
    {
        private static readonly long Frequency = Stopwatch.Frequency;

        public static long NowNs()
        {
            return TicksToNs(Stopwatch.GetTimestamp());
        }

        /// <summary>Stopwatch ticks to nanoseconds without overflowing for any realistic uptime.</summary>
        public static long TicksToNs(long ticks)
        {
            long seconds = ticks / Frequency;
            long remainder = ticks % Frequency;
            return seconds * 1000000000L + remainder * 1000000000L / Frequency;
        }

        public static double NsToMs(long ns)
        {
            return ns / 1e6;
        }
    }
}
