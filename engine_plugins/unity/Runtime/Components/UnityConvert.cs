// Between UnityEngine types and the engine-independent ones, and the log sink that sends the
// core's log lines to the Unity console.
using MachinimaBridge.Core;
using UnityEngine;

namespace MachinimaBridge
{
    public static class UnityConvert
    {
        public static Vec3d ToVec3d(Vector3 v)
        {
            return new Vec3d(v.x, v.y, v.z);
        }

        public static Vector3 ToVector3(Vec3d v)
        {
            return new Vector3((float)v.X, (float)v.Y, (float)v.Z);
        }

        public static Quatd ToQuatd(Quaternion q)
        {
            return new Quatd(q.x, q.y, q.z, q.w);
        }

        public static Quaternion ToQuaternion(Quatd q)
        {
            Quatd n = q.Normalized();
            return new Quaternion((float)n.X, (float)n.Y, (float)n.Z, (float)n.W);
        }

        [RuntimeInitializeOnLoadMethod(RuntimeInitializeLoadType.SubsystemRegistration)]
        private static void RouteLogToConsole()
        {
            BridgeLog.Sink = (level, line) =>
            {
                switch (level)
                {
                    case BridgeLogLevel.Error: Debug.LogError(line); break;
                    case BridgeLogLevel.Warning: Debug.LogWarning(line); break;
                    default: Debug.Log(line); break;
                }
            };
        }
    }
}
