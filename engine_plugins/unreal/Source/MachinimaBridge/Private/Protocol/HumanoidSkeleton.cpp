// The humanoid skeleton of MOCAP poses (see Protocol/HumanoidSkeleton.h).
#include "Protocol/HumanoidSkeleton.h"

#include <map>

namespace mbridge {
namespace protocol {

namespace {

const char* const kHumanBones[kHumanBoneCount] = {
    "Hips", "LeftUpperLeg", "RightUpperLeg", "LeftLowerLeg", "RightLowerLeg", "LeftFoot", "RightFoot", "Spine",
    "Chest", "Neck", "Head", "LeftShoulder", "RightShoulder", "LeftUpperArm", "RightUpperArm", "LeftLowerArm",
    "RightLowerArm", "LeftHand", "RightHand", "LeftToes", "RightToes", "LeftEye", "RightEye", "Jaw",
    "LeftThumbProximal", "LeftThumbIntermediate", "LeftThumbDistal", "LeftIndexProximal", "LeftIndexIntermediate",
    "LeftIndexDistal", "LeftMiddleProximal", "LeftMiddleIntermediate", "LeftMiddleDistal", "LeftRingProximal",
    "LeftRingIntermediate", "LeftRingDistal", "LeftLittleProximal", "LeftLittleIntermediate", "LeftLittleDistal",
    "RightThumbProximal", "RightThumbIntermediate", "RightThumbDistal", "RightIndexProximal",
    "RightIndexIntermediate", "RightIndexDistal", "RightMiddleProximal", "RightMiddleIntermediate",
    "RightMiddleDistal", "RightRingProximal", "RightRingIntermediate", "RightRingDistal", "RightLittleProximal",
    "RightLittleIntermediate", "RightLittleDistal", "UpperChest",
};

struct BoneInfo {
    const char* parent;
    std::array<double, 3> offset_m;
};

// Parent and T-pose offset of every bone except the fingers (built below).
std::map<std::string, BoneInfo> bodyBones() {
    std::map<std::string, BoneInfo> out = {
        {"Hips", {nullptr, {0.0, 0.95, 0.0}}},  // relative to a root on the floor
        {"Spine", {"Hips", {0.0, 0.10, 0.0}}},
        {"Chest", {"Spine", {0.0, 0.12, 0.0}}},
        {"UpperChest", {"Chest", {0.0, 0.12, 0.0}}},
        {"Neck", {"UpperChest", {0.0, 0.15, 0.0}}},
        {"Head", {"Neck", {0.0, 0.10, 0.0}}},
        {"Jaw", {"Head", {0.0, -0.02, 0.04}}},
        {"LeftEye", {"Head", {-0.032, 0.07, 0.08}}},
        {"RightEye", {"Head", {0.032, 0.07, 0.08}}},
    };
    return out;
}

struct Tables {
    int parents[kHumanBoneCount];
    std::array<double, 3> offsets[kHumanBoneCount];
    std::vector<size_t> parent_first;
    std::map<std::string, int> index;
};

const Tables& tables() {
    static const Tables built = [] {
        Tables t{};
        for (size_t i = 0; i < kHumanBoneCount; ++i) {
            t.index[kHumanBones[i]] = static_cast<int>(i);
        }
        std::map<std::string, BoneInfo> info = bodyBones();
        const char* const sides[2] = {"Left", "Right"};
        const double signs[2] = {-1.0, 1.0};
        const char* const fingers[5] = {"Thumb", "Index", "Middle", "Ring", "Little"};
        const std::array<double, 3> finger_roots[5] = {
            {0.025, -0.01, 0.03}, {0.09, 0.0, 0.03}, {0.09, 0.0, 0.01}, {0.085, 0.0, -0.01}, {0.075, 0.0, -0.03}};
        std::map<std::string, std::string> parent_names;
        for (int s = 0; s < 2; ++s) {
            const std::string side = sides[s];
            const double sign = signs[s];
            info[side + "UpperLeg"] = {"Hips", {sign * 0.09, -0.05, 0.0}};
            info[side + "LowerLeg"] = {nullptr, {0.0, -0.42, 0.0}};
            info[side + "Foot"] = {nullptr, {0.0, -0.42, 0.0}};
            info[side + "Toes"] = {nullptr, {0.0, -0.06, 0.13}};
            info[side + "Shoulder"] = {"UpperChest", {sign * 0.03, 0.10, 0.0}};
            info[side + "UpperArm"] = {nullptr, {sign * 0.12, 0.0, 0.0}};
            info[side + "LowerArm"] = {nullptr, {sign * 0.28, 0.0, 0.0}};
            info[side + "Hand"] = {nullptr, {sign * 0.25, 0.0, 0.0}};
            parent_names[side + "LowerLeg"] = side + "UpperLeg";
            parent_names[side + "Foot"] = side + "LowerLeg";
            parent_names[side + "Toes"] = side + "Foot";
            parent_names[side + "UpperArm"] = side + "Shoulder";
            parent_names[side + "LowerArm"] = side + "UpperArm";
            parent_names[side + "Hand"] = side + "LowerArm";
            for (int f = 0; f < 5; ++f) {
                const std::string finger = side + fingers[f];
                const std::array<double, 3>& root = finger_roots[f];
                info[finger + "Proximal"] = {nullptr, {sign * root[0], root[1], root[2]}};
                info[finger + "Intermediate"] = {nullptr, {sign * 0.04, 0.0, 0.0}};
                info[finger + "Distal"] = {nullptr, {sign * 0.025, 0.0, 0.0}};
                parent_names[finger + "Proximal"] = side + "Hand";
                parent_names[finger + "Intermediate"] = finger + "Proximal";
                parent_names[finger + "Distal"] = finger + "Intermediate";
            }
        }
        for (size_t i = 0; i < kHumanBoneCount; ++i) {
            const BoneInfo& bone = info.at(kHumanBones[i]);
            t.offsets[i] = bone.offset_m;
            auto named = parent_names.find(kHumanBones[i]);
            const std::string parent = named != parent_names.end() ? named->second : (bone.parent ? bone.parent : "");
            t.parents[i] = parent.empty() ? -1 : t.index.at(parent);
        }
        // Parent-first order: repeatedly take the bones whose parent is placed (as skeleton.py does).
        std::vector<bool> placed(kHumanBoneCount, false);
        while (t.parent_first.size() < kHumanBoneCount) {
            for (size_t i = 0; i < kHumanBoneCount; ++i) {
                if (!placed[i] && (t.parents[i] < 0 || placed[static_cast<size_t>(t.parents[i])])) {
                    placed[i] = true;
                    t.parent_first.push_back(i);
                }
            }
        }
        return t;
    }();
    return built;
}

}  // namespace

const char* humanBoneName(size_t index) { return index < kHumanBoneCount ? kHumanBones[index] : ""; }

int humanBoneIndex(const std::string& name) {
    const auto& index = tables().index;
    auto it = index.find(name);
    return it == index.end() ? -1 : it->second;
}

int humanBoneParent(size_t index) { return index < kHumanBoneCount ? tables().parents[index] : -1; }

std::array<double, 3> humanBoneTPoseOffsetM(size_t index) {
    return index < kHumanBoneCount ? tables().offsets[index] : std::array<double, 3>{0.0, 0.0, 0.0};
}

const std::vector<size_t>& humanBonesParentFirst() { return tables().parent_first; }

}  // namespace protocol
}  // namespace mbridge
