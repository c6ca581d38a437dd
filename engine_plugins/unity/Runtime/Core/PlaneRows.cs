// Row copies between wire planes and engine textures. The wire's row 0 is the top row
// (docs/protocol.md, 5.2); Unity textures and GPU readbacks start at the bottom row, so
// both directions flip while they copy, which costs nothing over the copy that is needed anyway.
using System;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Core
{
    public static class PlaneRows
    {
        /// <summary>
        /// Copy <paramref name="height"/> rows of <paramref name="rowBytes"/> bytes from a strided source into a
        /// strided destination, reversing the row order when <paramref name="flipVertically"/>.
        /// </summary>
        public static void Copy(byte[] source, int sourceOffset, int sourceStride,
                                byte[] destination, int destinationOffset, int destinationStride,
                                int rowBytes, int height, bool flipVertically)
        {
            if (rowBytes > sourceStride || rowBytes > destinationStride)
            {
                throw new ArgumentException("rowBytes " + rowBytes + " is larger than a stride (source " + sourceStride
                                            + ", destination " + destinationStride + ")");
            }
            long sourceNeeds = sourceOffset + (long)sourceStride * (height - 1) + rowBytes;
            long destinationNeeds = destinationOffset + (long)destinationStride * (height - 1) + rowBytes;
            if (height > 0 && (sourceNeeds > source.Length || destinationNeeds > destination.Length))
            {
                throw new ArgumentException("buffers too small for " + height + " rows: source has " + source.Length
                                            + " bytes (needs " + sourceNeeds + "), destination has " + destination.Length
                                            + " (needs " + destinationNeeds + ")");
            }
            for (int row = 0; row < height; row++)
            {
                int sourceRow = flipVertically ? height - 1 - row : row;
                Buffer.BlockCopy(source, sourceOffset + sourceRow * sourceStride,
                                 destination, destinationOffset + row * destinationStride, rowBytes);
            }
        }

        /// <summary>
        /// Pack a received plane (honouring its stride) into tightly packed rows for a texture upload;
        /// returns the number of bytes written (width x height x bytes per pixel).
        /// </summary>
        public static int PackForUpload(Plane plane, byte[] destination, bool flipVertically)
        {
            PlaneDescriptor d = plane.Descriptor;
            int rowBytes = d.RowBytes;
            Copy(plane.Data, 0, d.Stride, destination, 0, rowBytes, rowBytes, d.Height, flipVertically);
            return rowBytes * d.Height;
        }

        /// <summary>A packed wire plane from bottom-up (or top-down) rows of a readback buffer.</summary>
        public static Plane FromReadback(string kind, string format, int width, int height, byte[] readback, bool readbackIsBottomUp)
        {
            PlaneDescriptor d = PlaneDescriptor.Packed(kind, format, width, height);
            var data = new byte[d.ByteLength];
            Copy(readback, 0, d.RowBytes, data, 0, d.RowBytes, d.RowBytes, height, readbackIsBottomUp);
            return new Plane(d, data);
        }
    }
}
