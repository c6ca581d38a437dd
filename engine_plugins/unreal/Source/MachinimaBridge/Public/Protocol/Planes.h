// Image planes on the wire (docs/protocol.md section 5): kinds, pixel formats, descriptors.
//
// A plane is one binary message part holding `height` rows of `stride` bytes; each row starts
// with `width` pixels of `format` and may be padded up to `stride`.  Row 0 is the top row.
// Multi-byte samples (F16/F32 depth) are little-endian.
#pragma once

#include <cstdint>
#include <string>

#include "Protocol/ByteView.h"
#include "Protocol/Msgpack.h"
#include "Protocol/ProtocolErrors.h"

namespace mbridge {
namespace protocol {

constexpr uint32_t kMaxPlaneSidePx = 16384;

enum class PlaneKind : uint8_t { Color, Depth, Mask };
enum class PixelFormat : uint8_t { RGBA8, BGRA8, RGB8, F16, F32, U8 };

const char* planeKindName(PlaneKind kind);      // "color", "depth", "mask"
const char* pixelFormatName(PixelFormat format);  // "RGBA8", ...
bool parsePlaneKind(const std::string& name, PlaneKind& out);
bool parsePixelFormat(const std::string& name, PixelFormat& out);
uint32_t bytesPerPixel(PixelFormat format);  // RGBA8 4, BGRA8 4, RGB8 3, F16 2, F32 4, U8 1
uint32_t sampleBytes(PixelFormat format);    // F16 2, F32 4, otherwise 1
bool formatAllowedForKind(PlaneKind kind, PixelFormat format);

struct PlaneDescriptor {
    PlaneKind kind = PlaneKind::Color;
    PixelFormat format = PixelFormat::RGBA8;
    uint32_t width = 0;   // px
    uint32_t height = 0;  // px
    uint64_t stride = 0;  // bytes from the start of one row to the start of the next

    // A descriptor without row padding.
    static PlaneDescriptor packed(PlaneKind kind, PixelFormat format, uint32_t width, uint32_t height);

    uint64_t rowBytes() const { return static_cast<uint64_t>(width) * bytesPerPixel(format); }
    // stride * height; saturates at UINT64_MAX instead of wrapping (no part is ever that long).
    uint64_t byteLength() const;

    // The wire map, keys in canonical order: kind, format, width, height, stride.
    MsgpackValue toWire() const;
    // The section 5.1 rules: format suits kind, sides in 1..16384, stride large enough and a
    // multiple of the sample size.  `where` names the descriptor in the message ("planes[0]").
    bool validate(const std::string& where, ProtocolError& error) const;
};

// Reads and validates one descriptor map: BAD_FIELD for a missing or mistyped key,
// PLANE_MISMATCH / LIMIT_EXCEEDED for the section 5.1 rules.
bool planeDescriptorFromWire(const MsgpackValue& value, const std::string& where, PlaneDescriptor& out,
                             ProtocolError& error);

// One plane: its descriptor and a view of its bytes (the owner of the bytes keeps them alive).
struct Plane {
    PlaneDescriptor descriptor;
    ByteView data;
};

}  // namespace protocol
}  // namespace mbridge
