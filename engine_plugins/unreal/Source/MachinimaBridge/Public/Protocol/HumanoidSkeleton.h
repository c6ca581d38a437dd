// The humanoid skeleton MOCAP poses are expressed on (docs/protocol.md section 6.11): Unity's
// HumanBodyBones names in enum order, their parents, and the default T-pose bone offsets the
// bridge's mocap side uses (mocap/skeleton.py: T_POSE_OFFSETS_M, an average 1.75 m adult).
// Space: Unity's, left-handed, X right, Y up, Z forward, metres.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace mbridge {
namespace protocol {

constexpr size_t kHumanBoneCount = 55;

// "Hips", "LeftUpperLeg", ... "UpperChest": index == Unity's HumanBodyBones value.
const char* humanBoneName(size_t index);
// -1 for a name that is not a HumanBodyBones name.
int humanBoneIndex(const std::string& name);
// Index of the parent bone, -1 for Hips (the root of the hierarchy).
int humanBoneParent(size_t index);
// Local offset from the parent in the T-pose bind (metres, Unity space).
std::array<double, 3> humanBoneTPoseOffsetM(size_t index);
// All bones, every parent before its children (Hips first).
const std::vector<size_t>& humanBonesParentFirst();

}  // namespace protocol
}  // namespace mbridge
