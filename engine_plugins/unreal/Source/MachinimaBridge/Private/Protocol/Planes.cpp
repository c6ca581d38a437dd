// Plane descriptors: names, sizes and the docs/protocol.md section 5.1 checks.
#include "Protocol/Planes.h"

#include <limits>

namespace mbridge {
namespace protocol {

const char* planeKindName(PlaneKind kind) {
    switch (kind) {
        case PlaneKind::Color: return "color";
        case PlaneKind::Depth: return "depth";
        case PlaneKind::Mask: return "mask";
    }
    return "unknown";
}

const char* pixelFormatName(PixelFormat format) {
    switch (format) {
        case PixelFormat::RGBA8: return "RGBA8";
        case PixelFormat::BGRA8: return "BGRA8";
        case PixelFormat::RGB8: return "RGB8";
        case PixelFormat::F16: return "F16";
        case PixelFormat::F32: return "F32";
        case PixelFormat::U8: return "U8";
    }
    return "unknown";
}

bool parsePlaneKind(const std::string& name, PlaneKind& out) {
    for (PlaneKind kind : {PlaneKind::Color, PlaneKind::Depth, PlaneKind::Mask}) {
        if (name == planeKindName(kind)) {
            out = kind;
            return true;
        }
    }
    return false;
}

bool parsePixelFormat(const std::string& name, PixelFormat& out) {
    for (PixelFormat format : {PixelFormat::RGBA8, PixelFormat::BGRA8, PixelFormat::RGB8, PixelFormat::F16,
                               PixelFormat::F32, PixelFormat::U8}) {
        if (name == pixelFormatName(format)) {
            out = format;
            return true;
        }
    }
    return false;
}

uint32_t bytesPerPixel(PixelFormat format) {
    switch (format) {
        case PixelFormat::RGBA8:
        case PixelFormat::BGRA8:
        case PixelFormat::F32: return 4;
        case PixelFormat::RGB8: return 3;
        case PixelFormat::F16: return 2;
        case PixelFormat::U8: return 1;
    }
    return 1;
}

uint32_t sampleBytes(PixelFormat format) {
    switch (format) {
        case PixelFormat::F16: return 2;
        case PixelFormat::F32: return 4;
        default: return 1;
    }
}

bool formatAllowedForKind(PlaneKind kind, PixelFormat format) {
    switch (kind) {
        case PlaneKind::Color:
            return format == PixelFormat::RGBA8 || format == PixelFormat::RGB8 || format == PixelFormat::BGRA8;
        case PlaneKind::Depth: return format == PixelFormat::F16 || format == PixelFormat::F32;
        case PlaneKind::Mask: return format == PixelFormat::U8;
    }
    return false;
}

namespace {

const char* allowedFormatsText(PlaneKind kind) {
    switch (kind) {
        case PlaneKind::Color: return "RGBA8, RGB8, BGRA8";
        case PlaneKind::Depth: return "F16, F32";
        case PlaneKind::Mask: return "U8";
    }
    return "";
}

bool failPlane(ProtocolError& error, ErrorCode code, std::string message) {
    error = ProtocolError{};
    error.code = code;
    error.message = std::move(message);
    return false;
}

bool checkSide(const std::string& where, const char* name, int64_t side, bool fits, ProtocolError& error) {
    if (!fits || side < 1 || side > static_cast<int64_t>(kMaxPlaneSidePx)) {
        return failPlane(error, ErrorCode::LimitExceeded,
                         where + "." + name + " " + (fits ? std::to_string(side) : std::string("(above 2^63)")) +
                             " is outside 1.." + std::to_string(kMaxPlaneSidePx));
    }
    return true;
}

bool checkStride(const std::string& where, PixelFormat format, uint64_t row_bytes, bool negative, uint64_t stride,
                 ProtocolError& error) {
    if (negative || stride < row_bytes) {
        return failPlane(error, ErrorCode::PlaneMismatch,
                         where + ".stride " + (negative ? std::string("(negative)") : std::to_string(stride)) +
                             " is smaller than width*bytes_per_pixel = " + std::to_string(row_bytes));
    }
    if (stride % sampleBytes(format) != 0) {
        return failPlane(error, ErrorCode::PlaneMismatch,
                         where + ".stride " + std::to_string(stride) + " is not a multiple of " +
                             std::to_string(sampleBytes(format)));
    }
    return true;
}

}  // namespace

PlaneDescriptor PlaneDescriptor::packed(PlaneKind kind, PixelFormat format, uint32_t width, uint32_t height) {
    PlaneDescriptor d;
    d.kind = kind;
    d.format = format;
    d.width = width;
    d.height = height;
    d.stride = d.rowBytes();
    return d;
}

uint64_t PlaneDescriptor::byteLength() const {
    if (height != 0 && stride > std::numeric_limits<uint64_t>::max() / height) {
        return std::numeric_limits<uint64_t>::max();
    }
    return stride * height;
}

MsgpackValue PlaneDescriptor::toWire() const {
    MsgpackValue out = MsgpackValue::map();
    out.reserve(5);
    out.append("kind", MsgpackValue::str(planeKindName(kind)));
    out.append("format", MsgpackValue::str(pixelFormatName(format)));
    out.append("width", MsgpackValue::unsignedInteger(width));
    out.append("height", MsgpackValue::unsignedInteger(height));
    out.append("stride", MsgpackValue::unsignedInteger(stride));
    return out;
}

bool PlaneDescriptor::validate(const std::string& where, ProtocolError& error) const {
    if (!formatAllowedForKind(kind, format)) {
        return failPlane(error, ErrorCode::PlaneMismatch,
                         where + ".format '" + pixelFormatName(format) + "' is not allowed for a " +
                             planeKindName(kind) + " plane (allowed: " + allowedFormatsText(kind) + ")");
    }
    return checkSide(where, "width", width, true, error) && checkSide(where, "height", height, true, error) &&
           checkStride(where, format, rowBytes(), false, stride, error);
}

bool planeDescriptorFromWire(const MsgpackValue& value, const std::string& where, PlaneDescriptor& out,
                             ProtocolError& error) {
    if (!value.isMap()) {
        return failPlane(error, ErrorCode::BadField,
                         where + " must be a map, got " + msgpackTypeName(value.type()));
    }
    const MsgpackValue* fields[5] = {};
    const char* names[5] = {"kind", "format", "width", "height", "stride"};
    for (int i = 0; i < 5; ++i) {
        fields[i] = value.find(names[i]);
        if (fields[i] == nullptr) {
            return failPlane(error, ErrorCode::BadField, where + "." + names[i] + " is missing");
        }
        const bool want_str = i < 2;
        if (want_str ? !fields[i]->isStr() : !fields[i]->isInt()) {
            return failPlane(error, ErrorCode::BadField,
                             where + "." + names[i] + " must be " + (want_str ? "str" : "int") + ", got " +
                                 msgpackTypeName(fields[i]->type()));
        }
    }
    const std::string& kind_name = fields[0]->asString();
    const std::string& format_name = fields[1]->asString();
    PlaneKind kind = PlaneKind::Color;
    if (!parsePlaneKind(kind_name, kind)) {
        return failPlane(error, ErrorCode::PlaneMismatch,
                         where + ".kind '" + kind_name + "' is not one of color, depth, mask");
    }
    PixelFormat format = PixelFormat::RGBA8;
    if (!parsePixelFormat(format_name, format) || !formatAllowedForKind(kind, format)) {
        return failPlane(error, ErrorCode::PlaneMismatch,
                         where + ".format '" + format_name + "' is not allowed for a " + kind_name +
                             " plane (allowed: " + allowedFormatsText(kind) + ")");
    }
    int64_t width = 0;
    int64_t height = 0;
    const bool width_fits = fields[2]->toInt64(width);
    const bool height_fits = fields[3]->toInt64(height);
    if (!checkSide(where, "width", width, width_fits, error) || !checkSide(where, "height", height, height_fits, error)) {
        return false;
    }
    out.kind = kind;
    out.format = format;
    out.width = static_cast<uint32_t>(width);
    out.height = static_cast<uint32_t>(height);
    uint64_t stride = 0;
    const bool negative = !fields[4]->toUint64(stride);
    if (!checkStride(where, format, out.rowBytes(), negative, stride, error)) {
        return false;
    }
    out.stride = stride;
    return true;
}

}  // namespace protocol
}  // namespace mbridge
