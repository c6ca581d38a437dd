// A performer's pose in a MOCAP message (see Protocol/MocapPose.h).
#include "Protocol/MocapPose.h"

#include <cmath>
#include <cstring>
#include <set>

#include "Protocol/FieldReader.h"
#include "Protocol/HumanoidSkeleton.h"

namespace mbridge {
namespace protocol {

namespace {

float readFloat32LittleEndian(const uint8_t* bytes) {
    const uint32_t bits = static_cast<uint32_t>(bytes[0]) | (static_cast<uint32_t>(bytes[1]) << 8) |
                          (static_cast<uint32_t>(bytes[2]) << 16) | (static_cast<uint32_t>(bytes[3]) << 24);
    float value = 0.0f;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
}

void appendFloat32LittleEndian(std::vector<uint8_t>& out, double value) {
    const float narrowed = static_cast<float>(value);
    uint32_t bits = 0;
    std::memcpy(&bits, &narrowed, sizeof(bits));
    for (int shift = 0; shift < 32; shift += 8) {
        out.push_back(static_cast<uint8_t>((bits >> shift) & 0xff));
    }
}

// An optional (or required) array of unique str; `bones_only` also requires HumanBodyBones names.
std::vector<std::string> nameList(FieldReader& r, const char* name, Need need, bool bones_only) {
    ParseContext& ctx = r.context();
    std::vector<std::string> out;
    const MsgpackValue* items = r.list(name, need, kMaxContainerEntries);
    if (items == nullptr) {
        return out;
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < items->size() && !ctx.failed; ++i) {
        const MsgpackValue& item = items->at(i);
        const std::string where = std::string("MOCAP.") + name + "[" + std::to_string(i) + "]";
        if (!item.isStr()) {
            ctx.fail(ErrorCode::BadField, where + " must be a str, got " + msgpackTypeName(item.type()));
        } else if (bones_only && humanBoneIndex(item.asString()) < 0) {
            ctx.fail(ErrorCode::BadField, std::string("MOCAP.") + name + " names unknown bone '" + item.asString() +
                                              "' (not a Unity HumanBodyBones name)");
        } else if (!seen.insert(item.asString()).second) {
            ctx.fail(ErrorCode::BadField, std::string("MOCAP.") + name + " repeats '" + item.asString() + "'");
        } else {
            out.push_back(item.asString());
        }
    }
    return out;
}

template <size_t N>
bool normalise(std::array<double, N>& q) {
    double norm = 0.0;
    for (double v : q) {
        norm += v * v;
    }
    norm = std::sqrt(norm);
    if (!(norm >= 1e-6)) {
        return false;
    }
    for (double& v : q) {
        v /= norm;
    }
    return true;
}

MsgpackValue stringArray(const std::vector<std::string>& items) {
    MsgpackValue out = MsgpackValue::array();
    for (const std::string& item : items) {
        out.push(MsgpackValue::str(item));
    }
    return out;
}

}  // namespace

bool decodeMocapPose(const Mocap& message, MocapPose& out, ProtocolError& error) {
    ParseContext ctx;
    ctx.kind = Mocap::kKind;
    FieldReader r(ctx, message.fields, "MOCAP");
    out = MocapPose{};
    out.performer = r.str("performer");
    if (!ctx.failed && (out.performer.empty() || out.performer.size() > kMaxPerformerBytes)) {
        ctx.fail(ErrorCode::BadField, "MOCAP.performer must be 1.." + std::to_string(kMaxPerformerBytes) + " UTF-8 bytes");
    }
    out.t_ns = r.i64("t_ns");
    out.source = r.str("source", Need::Optional, "");
    std::array<double, 7> root{};
    r.floats("root", root);
    if (!ctx.failed) {
        for (double v : root) {
            if (!std::isfinite(v)) {
                ctx.fail(ErrorCode::BadField, "MOCAP.root holds non-finite values");
                break;
            }
        }
        out.root_position_m = {root[0], root[1], root[2]};
        out.root_rotation_xyzw = {root[3], root[4], root[5], root[6]};
        if (!ctx.failed && !normalise(out.root_rotation_xyzw)) {
            ctx.fail(ErrorCode::BadField, "MOCAP.root rotation has zero length");
        }
    }
    const std::vector<std::string> bones = nameList(r, "bones", Need::Required, true);
    const std::vector<std::string> positions = nameList(r, "positions", Need::Optional, true);
    const std::vector<std::string> blendshapes = nameList(r, "blendshapes", Need::Optional, false);
    if (!ctx.failed && blendshapes.size() > kMaxBlendshapes) {
        ctx.fail(ErrorCode::BadField, "MOCAP.blendshapes lists " + std::to_string(blendshapes.size()) +
                                          " names, at most " + std::to_string(kMaxBlendshapes));
    }
    const bool with_confidence = r.boolean("confidence", Need::Optional, false);
    if (ctx.failed) {
        error = ctx.error;
        return false;
    }

    const size_t values = 4 * bones.size() + 3 * positions.size() + blendshapes.size() +
                          (with_confidence ? bones.size() : 0);
    if (message.parts.size() != 1 || message.parts[0].size != 4 * values) {
        ctx.fail(ErrorCode::PlaneMismatch,
                 message.parts.size() != 1
                     ? "MOCAP carries exactly one binary part (the pose), got " + std::to_string(message.parts.size())
                     : "MOCAP pose part is " + std::to_string(message.parts[0].size) + " bytes; " +
                           std::to_string(bones.size()) + " bones, " + std::to_string(positions.size()) +
                           " positions, " + std::to_string(blendshapes.size()) + " blendshapes" +
                           (with_confidence ? " and confidences" : "") + " need " + std::to_string(4 * values));
        error = ctx.error;
        return false;
    }
    const uint8_t* bytes = message.parts[0].data;
    std::vector<double> floats(values);
    for (size_t i = 0; i < values; ++i) {
        floats[i] = static_cast<double>(readFloat32LittleEndian(bytes + 4 * i));
        if (!std::isfinite(floats[i])) {
            ctx.fail(ErrorCode::BadField, "MOCAP pose part holds non-finite values");
            error = ctx.error;
            return false;
        }
    }
    size_t at = 0;
    for (const std::string& bone : bones) {
        std::array<double, 4> q = {floats[at], floats[at + 1], floats[at + 2], floats[at + 3]};
        at += 4;
        if (!normalise(q)) {
            ctx.fail(ErrorCode::BadField, "MOCAP rotation of '" + bone + "' has zero length");
            error = ctx.error;
            return false;
        }
        out.bone_rotations.emplace_back(bone, q);
    }
    for (const std::string& bone : positions) {
        out.bone_positions_m.emplace_back(bone, std::array<double, 3>{floats[at], floats[at + 1], floats[at + 2]});
        at += 3;
    }
    for (const std::string& name : blendshapes) {
        out.blendshapes.emplace_back(name, floats[at++]);
    }
    if (with_confidence) {
        out.confidences.assign(floats.begin() + static_cast<std::ptrdiff_t>(at), floats.end());
    }
    return true;
}

Mocap encodeMocapPose(const MocapPose& pose, std::vector<uint8_t>& part) {
    Mocap message;
    message.fields.append("performer", MsgpackValue::str(pose.performer));
    message.fields.append("t_ns", MsgpackValue::integer(pose.t_ns));
    message.fields.append("source", MsgpackValue::str(pose.source));
    MsgpackValue root = MsgpackValue::array();
    for (double v : pose.root_position_m) {
        root.push(MsgpackValue::float64(v));
    }
    for (double v : pose.root_rotation_xyzw) {
        root.push(MsgpackValue::float64(v));
    }
    message.fields.append("root", std::move(root));
    std::vector<std::string> bones;
    std::vector<std::string> positions;
    std::vector<std::string> blendshapes;
    for (const auto& entry : pose.bone_rotations) {
        bones.push_back(entry.first);
    }
    for (const auto& entry : pose.bone_positions_m) {
        positions.push_back(entry.first);
    }
    for (const auto& entry : pose.blendshapes) {
        blendshapes.push_back(entry.first);
    }
    const bool with_confidence = !pose.confidences.empty();
    message.fields.append("bones", stringArray(bones));
    message.fields.append("positions", stringArray(positions));
    message.fields.append("blendshapes", stringArray(blendshapes));
    message.fields.append("confidence", MsgpackValue::boolean(with_confidence));

    part.clear();
    for (const auto& entry : pose.bone_rotations) {
        for (double v : entry.second) {
            appendFloat32LittleEndian(part, v);
        }
    }
    for (const auto& entry : pose.bone_positions_m) {
        for (double v : entry.second) {
            appendFloat32LittleEndian(part, v);
        }
    }
    for (const auto& entry : pose.blendshapes) {
        appendFloat32LittleEndian(part, entry.second);
    }
    if (with_confidence) {
        for (size_t i = 0; i < pose.bone_rotations.size(); ++i) {
            appendFloat32LittleEndian(part, i < pose.confidences.size() ? pose.confidences[i] : 1.0);
        }
    }
    message.parts.push_back(ByteView(part));
    return message;
}

}  // namespace protocol
}  // namespace mbridge
