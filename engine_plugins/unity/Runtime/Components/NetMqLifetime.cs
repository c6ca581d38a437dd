// NetMQ's process-wide set-up and tear-down. AsyncIO.ForceDotNet.Force() must run before the
// first socket (Unity's Mono lacks the Windows completion ports NetMQ would otherwise use), and
// NetMQConfig.Cleanup(false) after the last socket, or quitting play mode / reloading scripts
// hangs the editor. Transports count themselves in and out; quitting and domain reloads clean up.
using UnityEngine;

namespace MachinimaBridge
{
    public static class NetMqLifetime
    {
        private static readonly object Lock = new object();
        private static bool _forced;
        private static int _users;

        public static void Acquire()
        {
            lock (Lock)
            {
                if (!_forced)
                {
                    AsyncIO.ForceDotNet.Force();
                    _forced = true;
                }
                _users++;
            }
        }

        public static void Release()
        {
            lock (Lock)
            {
                _users = Mathf.Max(0, _users - 1);
                if (_users == 0) Cleanup();
            }
        }

        /// <summary>Tear NetMQ down without blocking (sockets already closed keep no linger).</summary>
        public static void Cleanup()
        {
            lock (Lock)
            {
                if (!_forced) return;
                NetMQ.NetMQConfig.Cleanup(false);
                _forced = false;
            }
        }

        [RuntimeInitializeOnLoadMethod(RuntimeInitializeLoadType.SubsystemRegistration)]
        private static void RegisterShutdownHooks()
        {
            Application.quitting -= Cleanup;
            Application.quitting += Cleanup;
#if UNITY_EDITOR
            UnityEditor.AssemblyReloadEvents.beforeAssemblyReload -= Cleanup;
            UnityEditor.AssemblyReloadEvents.beforeAssemblyReload += Cleanup;
#endif
        }
    }
}
