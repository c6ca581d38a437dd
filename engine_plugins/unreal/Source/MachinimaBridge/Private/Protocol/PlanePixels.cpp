// Pixel work between engine buffers and planes (see Protocol/PlanePixels.h).
#include "Protocol/PlanePixels.h"

#include <cstring>
#include <limits>

namespace mbridge {
namespace protocol {

void copyRows(const uint8_t* src, size_t src_pitch, uint8_t* dst, size_t dst_pitch, size_t row_bytes, size_t rows) {
    if (src_pitch == row_bytes && dst_pitch == row_bytes) {
        std::memcpy(dst, src, row_bytes * rows);
        return;
    }
    for (size_t y = 0; y < rows; ++y) {
        std::memcpy(dst + y * dst_pitch, src + y * src_pitch, row_bytes);
    }
}

void rgb8ToBgra8(const uint8_t* src, size_t src_stride, uint8_t* dst, size_t dst_pitch, uint32_t width,
                 uint32_t height) {
    for (uint32_t y = 0; y < height; ++y) {
        const uint8_t* in = src + static_cast<size_t>(y) * src_stride;
        uint8_t* out = dst + static_cast<size_t>(y) * dst_pitch;
        for (uint32_t x = 0; x < width; ++x) {
            out[0] = in[2];
            out[1] = in[1];
            out[2] = in[0];
            out[3] = 255;
            in += 3;
            out += 4;
        }
    }
}

void depthCentimetresToMetres(const float* src, size_t src_pitch_floats, float* dst, uint32_t width,
                              uint32_t height, float sky_cm) {
    const float infinity = std::numeric_limits<float>::infinity();
    for (uint32_t y = 0; y < height; ++y) {
        const float* in = src + static_cast<size_t>(y) * src_pitch_floats;
        float* out = dst + static_cast<size_t>(y) * width;
        for (uint32_t x = 0; x < width; ++x) {
            out[x] = in[x] >= sky_cm ? infinity : in[x] * 0.01f;
        }
    }
}

}  // namespace protocol
}  // namespace mbridge
