// Unreal <-> protocol space conversions (see Protocol/SpaceConversion.h).
#include "Protocol/SpaceConversion.h"

#include <cmath>

namespace mbridge {
namespace protocol {

namespace {

// Column-vector rotation matrix of a unit quaternion: R * v == q * v * conj(q).
std::array<std::array<double, 3>, 3> rotationMatrix(const std::array<double, 4>& q_xyzw) {
    const double norm = std::sqrt(q_xyzw[0] * q_xyzw[0] + q_xyzw[1] * q_xyzw[1] + q_xyzw[2] * q_xyzw[2] +
                                  q_xyzw[3] * q_xyzw[3]);
    const double s = norm > 0.0 ? 1.0 / norm : 0.0;
    const double x = q_xyzw[0] * s;
    const double y = q_xyzw[1] * s;
    const double z = q_xyzw[2] * s;
    const double w = norm > 0.0 ? q_xyzw[3] * s : 1.0;
    return {{{1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)},
             {2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)},
             {2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)}}};
}

}  // namespace

CameraInfo cameraInfoFromUnreal(const UnrealCameraPose& pose) {
    const auto r = rotationMatrix(pose.rotation_xyzw);
    // OpenCV camera axes expressed in Unreal local axes: right = +Y, down = -Z, forward = +X.
    const double local_axes[3][3] = {{0.0, 1.0, 0.0}, {0.0, 0.0, -1.0}, {1.0, 0.0, 0.0}};
    CameraInfo info;
    for (int axis = 0; axis < 3; ++axis) {
        double world_ue[3] = {0.0, 0.0, 0.0};
        for (int row = 0; row < 3; ++row) {
            for (int k = 0; k < 3; ++k) {
                world_ue[row] += r[static_cast<size_t>(row)][static_cast<size_t>(k)] * local_axes[axis][k];
            }
        }
        // Unreal world -> protocol world: negate y.  The axis is column `axis` of the matrix.
        info.world_from_camera[static_cast<size_t>(0 * 4 + axis)] = world_ue[0];
        info.world_from_camera[static_cast<size_t>(1 * 4 + axis)] = -world_ue[1];
        info.world_from_camera[static_cast<size_t>(2 * 4 + axis)] = world_ue[2];
    }
    info.world_from_camera[3] = pose.location_cm[0] * 0.01;
    info.world_from_camera[7] = -pose.location_cm[1] * 0.01;
    info.world_from_camera[11] = pose.location_cm[2] * 0.01;
    info.world_from_camera[12] = 0.0;
    info.world_from_camera[13] = 0.0;
    info.world_from_camera[14] = 0.0;
    info.world_from_camera[15] = 1.0;
    const double half_fov_rad = pose.horizontal_fov_deg * 0.5 * 3.14159265358979323846 / 180.0;
    const double fx = (static_cast<double>(pose.width_px) * 0.5) / std::tan(half_fov_rad);
    info.intrinsics_px = {fx, fx, (static_cast<double>(pose.width_px) - 1.0) * 0.5,
                          (static_cast<double>(pose.height_px) - 1.0) * 0.5};
    info.near_m = pose.near_cm * 0.01;
    info.far_m = pose.far_cm * 0.01;
    return info;
}

std::array<double, 3> unrealPositionFromUnity(const std::array<double, 3>& position_m) {
    return {position_m[2] * 100.0, position_m[0] * 100.0, position_m[1] * 100.0};
}

std::array<double, 4> unrealRotationFromUnity(const std::array<double, 4>& rotation_xyzw) {
    return {rotation_xyzw[2], rotation_xyzw[0], rotation_xyzw[1], rotation_xyzw[3]};
}

}  // namespace protocol
}  // namespace mbridge
