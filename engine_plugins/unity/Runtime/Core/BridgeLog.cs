// Logging for the engine-independent code: Unity routes it to Debug.Log*, test programs to
// stderr. Nothing here logs per frame; state changes and errors only.
using System;

namespace MachinimaBridge.Core
{
    public enum BridgeLogLevel
    {
        Debug,
        Info,
        Warning,
        Error,
    }

    public static class BridgeLog
    {
        private static volatile Action<BridgeLogLevel, string> _sink;

        /// <summary>Where log lines go; null drops them. Set once at start-up.</summary>
        public static Action<BridgeLogLevel, string> Sink
        {
            get { return _sink; }
            set { _sink = value; }
        }

        public static BridgeLogLevel MinimumLevel = BridgeLogLevel.Info;

        public static void Write(BridgeLogLevel level, string message)
        {
            Action<BridgeLogLevel, string> sink = _sink;
            if (sink == null || level < MinimumLevel) return;
            sink(level, "[machinima-bridge] " + message);
        }

        public static void Info(string message) { Write(BridgeLogLevel.Info, message); }
        public static void Warning(string message) { Write(BridgeLogLevel.Warning, message); }
        public static void Error(string message) { Write(BridgeLogLevel.Error, message); }
    }
}
