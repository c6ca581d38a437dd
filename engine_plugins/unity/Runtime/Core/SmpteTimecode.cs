// SMPTE timecode "HH:MM:SS:FF" (non-drop-frame) for FRAME.timecode, from a time and a nominal
// integer frame rate; hours wrap at 24 as timecode does.
using System;

namespace MachinimaBridge.Core
{
    public static class SmpteTimecode
    {
        public static string FromSeconds(double seconds, int framesPerSecond)
        {
            if (framesPerSecond < 1) throw new ArgumentOutOfRangeException("framesPerSecond", "frame rate must be at least 1, got " + framesPerSecond);
            if (seconds < 0 || double.IsNaN(seconds) || double.IsInfinity(seconds))
            {
                throw new ArgumentOutOfRangeException("seconds", "time must be finite and not negative, got " + seconds);
            }
            long frames = (long)Math.Floor(seconds * framesPerSecond + 1e-9);
            long ff = frames % framesPerSecond;
            long totalSeconds = frames / framesPerSecond;
            long ss = totalSeconds % 60;
            long mm = totalSeconds / 60 % 60;
            long hh = totalSeconds / 3600 % 24;
            return hh.ToString("00") + ":" + mm.ToString("00") + ":" + ss.ToString("00") + ":" + ff.ToString(framesPerSecond > 100 ? "000" : "00");
        }
    }
}
