// Conversions between Unreal's space and the protocol's (docs/protocol.md section 6.3), in plain
// C++ so they are tested outside the engine.
//
// Unreal: left-handed, z-up, centimetres; a camera looks along its local +X with +Y right and
// +Z up.  Protocol world (FRAME camera): right-handed, z-up, metres; camera space OpenCV, +x
// right, +y down, +z forward.  The Unreal world maps to it by negating y and scaling by 0.01.
// MOCAP poses use Unity's space instead (section 6.11).
#pragma once

#include <array>
#include <cstdint>

#include "Protocol/Messages.h"

namespace mbridge {
namespace protocol {

struct UnrealCameraPose {
    std::array<double, 3> location_cm{};                   // Unreal world
    std::array<double, 4> rotation_xyzw{0.0, 0.0, 0.0, 1.0};  // Unreal world, FQuat order
    double horizontal_fov_deg = 90.0;                     // USceneCaptureComponent2D::FOVAngle
    uint32_t width_px = 0;
    uint32_t height_px = 0;
    double near_cm = 10.0;
    double far_cm = 100000.0;
};

// The FRAME `camera` map for a picture rendered by an Unreal perspective camera (square pixels,
// centred principal point cx = (width-1)/2, cy = (height-1)/2).
CameraInfo cameraInfoFromUnreal(const UnrealCameraPose& pose);

// MOCAP space (Unity's: left-handed, X right, Y up, Z forward, metres; docs/protocol.md 6.11)
// -> Unreal (left-handed, X forward, Y right, Z up, centimetres): (X, Y, Z) = (z, x, y) * 100.
std::array<double, 3> unrealPositionFromUnity(const std::array<double, 3>& position_m);
// The same axis change for a rotation (quaternion x, y, z, w): (qz, qx, qy, qw).
std::array<double, 4> unrealRotationFromUnity(const std::array<double, 4>& rotation_xyzw);

}  // namespace protocol
}  // namespace mbridge
