// One performer's pose, as a MOCAP message carries it (docs/protocol.md section 6.11).
//
// The MOCAP message itself stays generic (Protocol/Messages.h keeps its header as a value tree
// and its part as received, so the relay and later field additions pass through unchanged);
// reading and writing the pose is this one pair of functions.
//
// Space: Unity's (left-handed, X right, Y up, Z forward, metres).  Rotations are local (relative
// to the parent bone) and relative to the T-pose bind; Protocol/SpaceConversion.h converts to
// Unreal.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "Protocol/Messages.h"
#include "Protocol/ProtocolErrors.h"

namespace mbridge {
namespace protocol {

constexpr size_t kMaxPerformerBytes = 256;
constexpr size_t kMaxBlendshapes = 256;

struct MocapPose {
    std::string performer;  // unique in the session, 1..256 UTF-8 bytes
    int64_t t_ns = 0;       // capture time, wall clock ns since the Unix epoch of the capturing machine
    std::string source;     // "xsens", "vmc", "bvh", "move_live", "webcam", ...
    std::array<double, 3> root_position_m{};
    std::array<double, 4> root_rotation_xyzw{0.0, 0.0, 0.0, 1.0};
    // HumanBodyBones names, each at most once, in wire order; rotations normalised when decoded.
    std::vector<std::pair<std::string, std::array<double, 4>>> bone_rotations;
    std::vector<std::pair<std::string, std::array<double, 3>>> bone_positions_m;
    std::vector<std::pair<std::string, double>> blendshapes;  // ARKit names, weight 0..1
    std::vector<double> confidences;                          // one per bone_rotations entry, or empty
};

// Reads the pose of a MOCAP message.  PLANE_MISMATCH when the message does not have exactly one
// part of the size its lists call for; BAD_FIELD naming the field for a missing or mistyped
// field, an unknown or repeated bone name, a non-finite value or a zero-length quaternion.
bool decodeMocapPose(const Mocap& message, MocapPose& out, ProtocolError& error);

// The MOCAP message for a pose: header fields in canonical order and the pose part, whose bytes
// go to `part` (the message's view points into it, so keep `part` alive while sending).
Mocap encodeMocapPose(const MocapPose& pose, std::vector<uint8_t>& part);

}  // namespace protocol
}  // namespace mbridge
