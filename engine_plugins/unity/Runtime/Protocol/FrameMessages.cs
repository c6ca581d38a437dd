// FRAME (engine -> server) and RESULT (server -> engine): a header plus one binary part per plane
// (docs/protocol.md, 5, 6.3, 6.4). Also the camera map a FRAME may carry.
using System.Collections.Generic;

namespace MachinimaBridge.Protocol
{
    /// <summary>
    /// Camera pose and pinhole intrinsics of one picture: world_from_camera is a row-major 4x4 matrix
    /// (OpenCV camera axes: +x right, +y down, +z forward; world right-handed, +z up, metres).
    /// </summary>
    public sealed class CameraInfo
    {
        public double[] WorldFromCamera = new double[16];
        /// <summary>fx, fy, cx, cy in pixels of the plane size.</summary>
        public double[] IntrinsicsPx = new double[4];
        public double NearM;
        public double FarM;

        public MsgPackMap ToWire()
        {
            return new MsgPackMap(4)
                .Add("world_from_camera", MsgPackValue.FromDoubles(WorldFromCamera))
                .Add("intrinsics_px", MsgPackValue.FromDoubles(IntrinsicsPx))
                .Add("near_m", NearM)
                .Add("far_m", FarM);
        }

        public static CameraInfo FromWire(FieldReader r)
        {
            return new CameraInfo
            {
                WorldFromCamera = r.Floats("world_from_camera", 16),
                IntrinsicsPx = r.Floats("intrinsics_px", 4),
                NearM = r.Float("near_m"),
                FarM = r.Float("far_m"),
            };
        }
    }

    internal static class PlaneList
    {
        public static List<MsgPackValue> Wire(List<Plane> planes)
        {
            var list = new List<MsgPackValue>(planes.Count);
            foreach (Plane p in planes) list.Add(MsgPackValue.From(p.Descriptor.ToWire()));
            return list;
        }

        public static IList<byte[]> Parts(List<Plane> planes)
        {
            var parts = new byte[planes.Count][];
            for (int i = 0; i < planes.Count; i++) parts[i] = planes[i].Data;
            return parts;
        }

        /// <summary>Descriptors from the header matched against the binary parts (5.1): count, kinds, byte lengths.</summary>
        public static List<Plane> Read(FieldReader r, IList<byte[]> parts, long stream, long index)
        {
            List<MsgPackValue> raw = r.List("planes", ProtocolLimits.MaxPlanes);
            var descs = new List<PlaneDescriptor>(raw.Count);
            for (int i = 0; i < raw.Count; i++)
            {
                descs.Add(PlaneDescriptor.FromWire(raw[i], "planes[" + i + "]", r.Kind));
            }
            if (parts.Count != descs.Count)
            {
                throw new ProtocolException(ErrorCode.PLANE_MISMATCH,
                    "header declares " + descs.Count + " planes but the message has " + parts.Count + " binary parts",
                    r.Kind, stream, index);
            }
            var seen = new HashSet<string>();
            var planes = new List<Plane>(descs.Count);
            for (int i = 0; i < descs.Count; i++)
            {
                PlaneDescriptor d = descs[i];
                if (!seen.Add(d.Kind))
                {
                    throw new ProtocolException(ErrorCode.PLANE_MISMATCH,
                        "planes[" + i + "] repeats plane kind '" + d.Kind + "'", r.Kind, stream, index);
                }
                if (parts[i].Length != d.ByteLength)
                {
                    throw new ProtocolException(ErrorCode.PLANE_MISMATCH,
                        "planes[" + i + "] (" + d.Kind + ") has " + parts[i].Length + " bytes but " + d.Width + "x"
                        + d.Height + " " + d.Format + " with stride " + d.Stride + " needs " + d.ByteLength,
                        r.Kind, stream, index);
                }
                planes.Add(new Plane(d, parts[i]));
            }
            return planes;
        }

        public static Plane Find(List<Plane> planes, string kind)
        {
            foreach (Plane p in planes)
            {
                if (p.Descriptor.Kind == kind) return p;
            }
            return null;
        }
    }

    public sealed class Frame : BridgeMessage
    {
        public override string Kind { get { return MessageKinds.Frame; } }

        public long Stream;
        public long Index;
        /// <summary>The engine's monotonic clock at capture, in nanoseconds; RESULT echoes it.</summary>
        public long TCaptureNs;
        /// <summary>SMPTE "HH:MM:SS:FF" (";FF" drop-frame), or null.</summary>
        public string Timecode;
        public List<Plane> Planes = new List<Plane>();
        public CameraInfo Camera;

        public Plane Plane(string kind)
        {
            return PlaneList.Find(Planes, kind);
        }

        public override MsgPackMap ToHeader()
        {
            MsgPackMap m = Base(8).Add("stream", Stream).Add("index", Index).Add("t_capture_ns", TCaptureNs);
            if (Timecode != null) m.Add("timecode", Timecode);
            m.Add("planes", MsgPackValue.From(PlaneList.Wire(Planes)));
            if (Camera != null) m.Add("camera", Camera.ToWire());
            return m;
        }

        public override IList<byte[]> BinaryParts()
        {
            return PlaneList.Parts(Planes);
        }

        public static Frame FromHeader(FieldReader r, IList<byte[]> parts)
        {
            long stream = r.Int("stream", 0, ProtocolLimits.MaxStreamId);
            long index = r.Int("index", 0, ProtocolLimits.MaxU63);
            FieldReader camera = r.Sub("camera", false);
            var frame = new Frame
            {
                Stream = stream,
                Index = index,
                TCaptureNs = r.Int("t_capture_ns", 0, ProtocolLimits.MaxU63),
                Timecode = r.OptStr("timecode"),
            };
            frame.Planes = PlaneList.Read(r, parts, stream, index);
            frame.Camera = camera == null ? null : CameraInfo.FromWire(camera);
            return frame;
        }
    }

    public sealed class Result : BridgeMessage
    {
        public override string Kind { get { return MessageKinds.Result; } }

        public long Stream;
        public long Index;
        public long TCaptureNs;
        public List<Plane> Planes = new List<Plane>();
        /// <summary>Microseconds per stage, in pipeline order (received order is kept).</summary>
        public MsgPackMap StageUs = new MsgPackMap();
        public long ServerUs;
        public long Dropped;
        public bool Held;

        public Plane Plane(string kind)
        {
            return PlaneList.Find(Planes, kind);
        }

        public override MsgPackMap ToHeader()
        {
            return Base(10)
                .Add("stream", Stream)
                .Add("index", Index)
                .Add("t_capture_ns", TCaptureNs)
                .Add("planes", MsgPackValue.From(PlaneList.Wire(Planes)))
                .Add("stage_us", StageUs)
                .Add("server_us", ServerUs)
                .Add("dropped", Dropped)
                .Add("held", Held);
        }

        public override IList<byte[]> BinaryParts()
        {
            return PlaneList.Parts(Planes);
        }

        public static Result FromHeader(FieldReader r, IList<byte[]> parts)
        {
            long stream = r.Int("stream", 0, ProtocolLimits.MaxStreamId);
            long index = r.Int("index", 0, ProtocolLimits.MaxU63);
            MsgPackMap stageUs = r.OptMapField("stage_us") ?? new MsgPackMap();
            foreach (KeyValuePair<string, MsgPackValue> e in stageUs)
            {
                if (!e.Value.IsInteger) throw r.Fail("stage_us must map stage names to integers ('" + e.Key + "' is " + MsgPackValue.TypeName(e.Value.Type) + ")");
            }
            var result = new Result
            {
                Stream = stream,
                Index = index,
                TCaptureNs = r.Int("t_capture_ns", 0, ProtocolLimits.MaxU63),
            };
            result.Planes = PlaneList.Read(r, parts, stream, index);
            result.StageUs = stageUs;
            result.ServerUs = r.IntOr("server_us", 0, 0);
            result.Dropped = r.IntOr("dropped", 0, 0);
            result.Held = r.BoolOr("held", false);
            return result;
        }
    }
}
