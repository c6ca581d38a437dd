// Camera pose and intrinsics in the protocol's conventions (docs/protocol.md, 6.3), computed
// from Unity's: Unity is left-handed, +y up, metres; the protocol's world is right-handed,
// +z up, metres, and its camera space is OpenCV's (+x right, +y down, +z forward).
//
//   bridge world = P * unity world,     P swaps y and z        (det -1: handedness flips)
//   unity camera local = F * opencv,    F = diag(1, -1, 1)     (y up -> y down)
//   world_from_camera = P * [R_unity | t_unity] * F            (a proper rotation again)
using System;

namespace MachinimaBridge.Core
{
    /// <summary>A double-precision vector (x, y, z).</summary>
    public struct Vec3d
    {
        public double X, Y, Z;

        public Vec3d(double x, double y, double z)
        {
            X = x;
            Y = y;
            Z = z;
        }

        public override string ToString()
        {
            return "(" + X.ToString("G6") + ", " + Y.ToString("G6") + ", " + Z.ToString("G6") + ")";
        }
    }

    /// <summary>A unit quaternion (x, y, z, w), the layout Unity, VMC and the MOCAP payload use.</summary>
    public struct Quatd
    {
        public double X, Y, Z, W;

        public Quatd(double x, double y, double z, double w)
        {
            X = x;
            Y = y;
            Z = z;
            W = w;
        }

        public static readonly Quatd Identity = new Quatd(0, 0, 0, 1);

        public static Quatd AxisAngleDeg(Vec3d axis, double angleDeg)
        {
            double n = Math.Sqrt(axis.X * axis.X + axis.Y * axis.Y + axis.Z * axis.Z);
            double half = angleDeg * Math.PI / 360.0;
            double s = Math.Sin(half) / n;
            return new Quatd(axis.X * s, axis.Y * s, axis.Z * s, Math.Cos(half));
        }

        public double Length { get { return Math.Sqrt(X * X + Y * Y + Z * Z + W * W); } }

        /// <summary>This rotation scaled to unit length; throws for a zero quaternion.</summary>
        public Quatd Normalized()
        {
            double n = Length;
            if (!(n > 0)) throw new InvalidOperationException("a zero quaternion is no rotation");
            return new Quatd(X / n, Y / n, Z / n, W / n);
        }

        /// <summary>The inverse rotation (conjugate over squared length).</summary>
        public Quatd Inverse()
        {
            double n2 = X * X + Y * Y + Z * Z + W * W;
            if (!(n2 > 0)) throw new InvalidOperationException("a zero quaternion has no inverse");
            return new Quatd(-X / n2, -Y / n2, -Z / n2, W / n2);
        }

        /// <summary>Angle in degrees between two rotations (0 when equal, q and -q included).</summary>
        public static double AngleDeg(Quatd a, Quatd b)
        {
            Quatd an = a.Normalized(), bn = b.Normalized();
            double dot = Math.Abs(an.X * bn.X + an.Y * bn.Y + an.Z * bn.Z + an.W * bn.W);
            return 2.0 * Math.Acos(Math.Min(1.0, dot)) * 180.0 / Math.PI;
        }

        public static Quatd operator *(Quatd a, Quatd b)
        {
            return new Quatd(
                a.W * b.X + a.X * b.W + a.Y * b.Z - a.Z * b.Y,
                a.W * b.Y - a.X * b.Z + a.Y * b.W + a.Z * b.X,
                a.W * b.Z + a.X * b.Y - a.Y * b.X + a.Z * b.W,
                a.W * b.W - a.X * b.X - a.Y * b.Y - a.Z * b.Z);
        }

        public Vec3d Rotate(Vec3d v)
        {
            double[] m = ToRotationMatrix();
            return new Vec3d(m[0] * v.X + m[1] * v.Y + m[2] * v.Z,
                             m[3] * v.X + m[4] * v.Y + m[5] * v.Z,
                             m[6] * v.X + m[7] * v.Y + m[8] * v.Z);
        }

        /// <summary>The 3x3 rotation matrix, row-major.</summary>
        public double[] ToRotationMatrix()
        {
            double n = Math.Sqrt(X * X + Y * Y + Z * Z + W * W);
            if (n == 0) throw new InvalidOperationException("a zero quaternion is no rotation");
            double x = X / n, y = Y / n, z = Z / n, w = W / n;
            return new[]
            {
                1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
                2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
                2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
            };
        }

        public override string ToString()
        {
            return "(" + X.ToString("G6") + ", " + Y.ToString("G6") + ", " + Z.ToString("G6") + ", " + W.ToString("G6") + ")";
        }
    }

    public static class CameraConventions
    {
        /// <summary>Unity world point to the protocol's world (swap y and z).</summary>
        public static Vec3d UnityToBridgeWorld(Vec3d p)
        {
            return new Vec3d(p.X, p.Z, p.Y);
        }

        /// <summary>
        /// FRAME.camera.world_from_camera (row-major 4x4) for a Unity camera at <paramref name="positionM"/>
        /// with rotation <paramref name="rotation"/> (Transform.position / Transform.rotation, scale ignored).
        /// </summary>
        public static double[] WorldFromCamera(Vec3d positionM, Quatd rotation)
        {
            double[] r = rotation.ToRotationMatrix();
            // M = P * R * F: P swaps rows 1 and 2, F negates column 1.
            var m = new double[16];
            int[] rowOf = { 0, 2, 1 };
            for (int i = 0; i < 3; i++)
            {
                int src = rowOf[i];
                m[i * 4 + 0] = r[src * 3 + 0];
                m[i * 4 + 1] = -r[src * 3 + 1];
                m[i * 4 + 2] = r[src * 3 + 2];
            }
            Vec3d t = UnityToBridgeWorld(positionM);
            m[3] = t.X;
            m[7] = t.Y;
            m[11] = t.Z;
            m[15] = 1.0;
            return m;
        }

        /// <summary>
        /// Pinhole intrinsics fx, fy, cx, cy in pixels for a perspective camera with a vertical field of view
        /// (Unity's Camera.fieldOfView) rendering <paramref name="widthPx"/> x <paramref name="heightPx"/> square
        /// pixels; the principal point is centred: cx = (width - 1) / 2, cy = (height - 1) / 2.
        /// </summary>
        public static double[] IntrinsicsFromVerticalFov(double verticalFovDeg, int widthPx, int heightPx)
        {
            if (!(verticalFovDeg > 0 && verticalFovDeg < 180))
            {
                throw new ArgumentOutOfRangeException("verticalFovDeg", "vertical field of view " + verticalFovDeg + " deg is outside (0, 180)");
            }
            double fy = heightPx / 2.0 / Math.Tan(verticalFovDeg * Math.PI / 360.0);
            return new[] { fy, fy, (widthPx - 1) / 2.0, (heightPx - 1) / 2.0 };
        }

        /// <summary>Apply a row-major 4x4 matrix to a point.</summary>
        public static Vec3d Transform(double[] m, Vec3d p)
        {
            return new Vec3d(m[0] * p.X + m[1] * p.Y + m[2] * p.Z + m[3],
                             m[4] * p.X + m[5] * p.Y + m[6] * p.Z + m[7],
                             m[8] * p.X + m[9] * p.Y + m[10] * p.Z + m[11]);
        }

        /// <summary>
        /// Linear eye depth in metres from a reversed-Z device depth in [0, 1] (1 at the near plane, 0 at the
        /// far plane), as Unity's D3D/Metal/Vulkan depth buffers store it; the far plane (sky) is +Infinity.
        /// The GPU path does the same in the plane shader; this is its reference.
        /// </summary>
        public static double EyeDepthFromReversedZ(double device, double nearM, double farM)
        {
            if (device <= 0.0) return double.PositiveInfinity;
            // device = near * (far - z) / (z * (far - near))  =>  z = near * far / (device * (far - near) + near)
            return nearM * farM / (device * (farM - nearM) + nearM);
        }
    }
}
