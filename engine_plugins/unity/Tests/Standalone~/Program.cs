// The out-of-engine probe: exercises the package's pure C# code (Runtime/Protocol, Runtime/Core)
// against real peers. tests/integration/test_unity_csharp_protocol.py builds it with Mono's mcs
// and drives it; it can also be run by hand:
//
//   mono BridgeProbe.exe live tcp://127.0.0.1:5555
//   mono BridgeProbe.exe reencode FOLDER
//   mono BridgeProbe.exe bench tcp://127.0.0.1:5555 512x512,1920x1080 200
//   mono BridgeProbe.exe codec
//   mono BridgeProbe.exe vmc-send 127.0.0.1 39539
//   mono BridgeProbe.exe mocap tcp://127.0.0.1:5555 SESSION
//   mono BridgeProbe.exe audio tcp://127.0.0.1:5555
//   mono BridgeProbe.exe pcm FLOATS_F32LE_IN S16LE_OUT
//   mono BridgeProbe.exe take tcp://127.0.0.1:5555 TAKE_NAME FRAMES
//   mono BridgeProbe.exe take-names HEX_NAMES_FILE
//   mono BridgeProbe.exe take-state tcp://127.0.0.1:5555   (the caller starts and stops a take)
using System;
using System.Threading;
using MachinimaBridge.Core;

namespace MachinimaBridge.Standalone
{
    public static class Program
    {
        private const string Usage =
            "usage: BridgeProbe.exe live ENDPOINT | reencode FOLDER | bench ENDPOINT SIZES ITERATIONS | codec | vmc-send HOST PORT | mocap ENDPOINT SESSION"
            + " | audio ENDPOINT | pcm FLOATS_IN S16_OUT | take ENDPOINT TAKE_NAME FRAMES | take-names HEX_NAMES_FILE | take-state ENDPOINT";

        public static int Main(string[] args)
        {
            BridgeLog.Sink = (level, line) => Console.Error.WriteLine(level + " " + line);
            if (args.Length == 0)
            {
                Console.Error.WriteLine(Usage);
                return 2;
            }
            // A probe must never hang its caller: give up after a generous limit.
            var watchdog = new Timer(_ =>
            {
                Console.Error.WriteLine("probe watchdog: still running after 170 s, exiting");
                Environment.Exit(3);
            }, null, 170000, Timeout.Infinite);
            try
            {
                switch (args[0])
                {
                    case "live": return LiveSessionProbe.Run(args[1]);
                    case "reencode": return ReencodeProbe.Run(args[1]);
                    case "bench": return BenchProbe.Run(args[1], args[2].Split(','), int.Parse(args[3]));
                    case "codec": BenchProbe.Codec(); return 0;
                    case "vmc-send": return VmcProbe.Run(args[1], int.Parse(args[2]));
                    case "mocap": return MocapProbe.Run(args[1], args[2]);
                    case "audio": return AudioProbe.Run(args[1]);
                    case "pcm": return PcmProbe(args[1], args[2]);
                    case "take": return TakeProbe.Run(args[1], args[2], int.Parse(args[3]));
                    case "take-names": return TakeProbe.Names(args[1]);
                    case "take-state": return TakeStateProbe.Run(args[1]);
                    default:
                        Console.Error.WriteLine(Usage);
                        return 2;
                }
            }
            catch (Exception e)
            {
                new JsonLine("failed").Add("error", e.GetType().Name + ": " + e.Message).Print();
                Console.Error.WriteLine(e);
                return 1;
            }
            finally
            {
                watchdog.Dispose();
            }
        }

        /// <summary>float32 little-endian samples in, AudioPcm's s16 little-endian samples out (compared with numpy by the test).</summary>
        private static int PcmProbe(string input, string output)
        {
            byte[] raw = System.IO.File.ReadAllBytes(input);
            var floats = new float[raw.Length / 4];
            Buffer.BlockCopy(raw, 0, floats, 0, floats.Length * 4);
            var pcm = new byte[floats.Length * 2];
            AudioPcm.FloatsToS16Bytes(floats, 0, pcm, 0, floats.Length);
            System.IO.File.WriteAllBytes(output, pcm);
            new JsonLine("pcm").Add("samples", floats.Length).Print();
            return 0;
        }
    }
}
