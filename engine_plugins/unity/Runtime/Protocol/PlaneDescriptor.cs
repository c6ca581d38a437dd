// Planes on the wire (docs/protocol.md, section 5): what a descriptor says, which formats each
// plane kind may carry, and the checks a receiver makes.
using System.Collections.Generic;

namespace MachinimaBridge.Protocol
{
    public static class PixelFormats
    {
        public const string RGBA8 = "RGBA8";
        public const string BGRA8 = "BGRA8";
        public const string RGB8 = "RGB8";
        public const string F16 = "F16";
        public const string F32 = "F32";
        public const string U8 = "U8";

        public const int MaxSidePx = 16384;

        public static readonly string[] ColorFormats = { RGBA8, RGB8, BGRA8 };
        public static readonly string[] DepthFormats = { F16, F32 };
        public static readonly string[] MaskFormats = { U8 };

        /// <summary>Bytes of one pixel; throws for a name that is not a v1 pixel format.</summary>
        public static int BytesPerPixel(string format)
        {
            switch (format)
            {
                case RGBA8:
                case BGRA8:
                case F32:
                    return 4;
                case RGB8: return 3;
                case F16: return 2;
                case U8: return 1;
                default: throw new KeyNotFoundException("unknown pixel format '" + format + "'");
            }
        }

        /// <summary>Size of one sample: the stride must be a multiple of it (2 for F16, 4 for F32, else 1).</summary>
        public static int SampleBytes(string format)
        {
            switch (format)
            {
                case F16: return 2;
                case F32: return 4;
                default: return 1;
            }
        }

        /// <summary>The formats a plane kind ("color", "depth", "mask") may carry, or null for an unknown kind.</summary>
        public static string[] AllowedFor(string planeKind)
        {
            switch (planeKind)
            {
                case PlaneKinds.Color: return ColorFormats;
                case PlaneKinds.Depth: return DepthFormats;
                case PlaneKinds.Mask: return MaskFormats;
                default: return null;
            }
        }

        public static bool IsAllowed(string planeKind, string format)
        {
            string[] allowed = AllowedFor(planeKind);
            return allowed != null && System.Array.IndexOf(allowed, format) >= 0;
        }
    }

    public static class PlaneKinds
    {
        public const string Color = "color";
        public const string Depth = "depth";
        public const string Mask = "mask";
    }

    /// <summary>Shape and layout of one plane; serialised as a map with keys kind, format, width, height, stride.</summary>
    public sealed class PlaneDescriptor
    {
        public string Kind { get; private set; }
        public string Format { get; private set; }
        public int Width { get; private set; }
        public int Height { get; private set; }
        public int Stride { get; private set; }

        public PlaneDescriptor(string kind, string format, int width, int height, int stride)
        {
            Kind = kind;
            Format = format;
            Width = width;
            Height = height;
            Stride = stride;
        }

        /// <summary>A packed plane (no row padding) of the given format.</summary>
        public static PlaneDescriptor Packed(string kind, string format, int width, int height)
        {
            return new PlaneDescriptor(kind, format, width, height, width * PixelFormats.BytesPerPixel(format));
        }

        public int RowBytes { get { return Width * PixelFormats.BytesPerPixel(Format); } }

        /// <summary>Bytes the plane's part must have: stride x height (the last row includes its padding).</summary>
        public long ByteLength { get { return (long)Stride * Height; } }

        /// <summary>Receiver checks of section 5.1; throws ProtocolException naming <paramref name="where"/>.</summary>
        public void Validate(string where)
        {
            string[] allowed = PixelFormats.AllowedFor(Kind);
            if (allowed == null)
            {
                throw new ProtocolException(ErrorCode.PLANE_MISMATCH,
                    where + ".kind '" + Kind + "' is not one of color, depth, mask");
            }
            if (System.Array.IndexOf(allowed, Format) < 0)
            {
                throw new ProtocolException(ErrorCode.PLANE_MISMATCH,
                    where + ".format '" + Format + "' is not allowed for a " + Kind + " plane (allowed: "
                    + string.Join(", ", allowed) + ")");
            }
            if (Width < 1 || Width > PixelFormats.MaxSidePx)
            {
                throw new ProtocolException(ErrorCode.LIMIT_EXCEEDED,
                    where + ".width " + Width + " is outside 1.." + PixelFormats.MaxSidePx);
            }
            if (Height < 1 || Height > PixelFormats.MaxSidePx)
            {
                throw new ProtocolException(ErrorCode.LIMIT_EXCEEDED,
                    where + ".height " + Height + " is outside 1.." + PixelFormats.MaxSidePx);
            }
            if (Stride < RowBytes)
            {
                throw new ProtocolException(ErrorCode.PLANE_MISMATCH,
                    where + ".stride " + Stride + " is smaller than width*bytes_per_pixel = " + RowBytes);
            }
            int sample = PixelFormats.SampleBytes(Format);
            if (Stride % sample != 0)
            {
                throw new ProtocolException(ErrorCode.PLANE_MISMATCH,
                    where + ".stride " + Stride + " is not a multiple of " + sample);
            }
        }

        public MsgPackMap ToWire()
        {
            return new MsgPackMap(5)
                .Add("kind", Kind)
                .Add("format", Format)
                .Add("width", (long)Width)
                .Add("height", (long)Height)
                .Add("stride", (long)Stride);
        }

        /// <summary>Read and validate one entry of a "planes" array.</summary>
        public static PlaneDescriptor FromWire(MsgPackValue value, string where, string messageKind)
        {
            if (value.Type != MsgPackType.Map)
            {
                throw new ProtocolException(ErrorCode.BAD_FIELD,
                    where + " must be a map, got " + MsgPackValue.TypeName(value.Type), messageKind);
            }
            var r = new FieldReader(value.AsMap, where, messageKind);
            // Field types are checked before any rule of section 5.1, as the reference implementation does.
            string kind = r.Str("kind", checkLength: false);
            string format = r.Str("format", checkLength: false);
            long width = r.Int("width");
            long height = r.Int("height");
            long stride = r.Int("stride");
            if (width < 1 || width > PixelFormats.MaxSidePx || height < 1 || height > PixelFormats.MaxSidePx)
            {
                // Validate() names the side; clamp first so the int conversion cannot overflow.
                var probe = new PlaneDescriptor(kind, format, ClampSide(width), ClampSide(height), 0);
                probe.Validate(where);
            }
            if (stride < 0 || stride > int.MaxValue)
            {
                throw new ProtocolException(ErrorCode.PLANE_MISMATCH, where + ".stride " + stride + " is outside 0.." + int.MaxValue);
            }
            var desc = new PlaneDescriptor(kind, format, (int)width, (int)height, (int)stride);
            desc.Validate(where);
            return desc;
        }

        private static int ClampSide(long side)
        {
            if (side < 0) return 0;
            if (side > PixelFormats.MaxSidePx) return PixelFormats.MaxSidePx + 1;
            return (int)side;
        }

        public bool SameAs(PlaneDescriptor other)
        {
            return other != null && Kind == other.Kind && Format == other.Format && Width == other.Width
                   && Height == other.Height && Stride == other.Stride;
        }

        public override string ToString()
        {
            return Kind + " " + Format + " " + Width + "x" + Height + " stride " + Stride;
        }
    }

    /// <summary>One plane: its descriptor and its bytes (exactly ByteLength of them).</summary>
    public sealed class Plane
    {
        public PlaneDescriptor Descriptor { get; private set; }
        public byte[] Data { get; private set; }

        public Plane(PlaneDescriptor descriptor, byte[] data)
        {
            Descriptor = descriptor;
            Data = data;
        }
    }
}
