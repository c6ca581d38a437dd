// Pixel work between engine buffers and planes (docs/protocol.md section 5), in plain C++ so it
// is tested outside the engine: the Unreal readback and texture code call these.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mbridge {
namespace protocol {

// Copies `rows` rows of `row_bytes` bytes between buffers with their own pitches (bytes per row).
void copyRows(const uint8_t* src, size_t src_pitch, uint8_t* dst, size_t dst_pitch, size_t row_bytes, size_t rows);

// RGB8 rows (any stride) -> packed BGRA8 rows with alpha 255, for engines without an RGB8
// texture format.  `dst_pitch` >= width * 4.
void rgb8ToBgra8(const uint8_t* src, size_t src_stride, uint8_t* dst, size_t dst_pitch, uint32_t width,
                 uint32_t height);

// Unreal scene depth (float centimetres, `src_pitch_floats` floats per row) -> the protocol's F32
// depth in metres, packed.  Depths at or beyond `sky_cm` become +Infinity ("no surface").
void depthCentimetresToMetres(const float* src, size_t src_pitch_floats, float* dst, uint32_t width,
                              uint32_t height, float sky_cm);

}  // namespace protocol
}  // namespace mbridge
