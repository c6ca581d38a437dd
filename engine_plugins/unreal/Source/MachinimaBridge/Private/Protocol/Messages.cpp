// Message kinds of wire protocol v1: toHeader (canonical key order) and parsing with the checks
// and error codes of bridge/protocol/messages.py (see Protocol/Messages.h).
#include "Protocol/Messages.h"

#include <algorithm>
#include <set>
#include <type_traits>

#include "Protocol/AudioParse.h"
#include "Protocol/FieldReader.h"

namespace mbridge {
namespace protocol {

namespace {

MsgpackValue baseHeader(const char* kind, size_t entries) {
    MsgpackValue out = MsgpackValue::map();
    out.reserve(entries);
    out.append("v", MsgpackValue::integer(kProtocolVersion));
    out.append("kind", MsgpackValue::str(kind));
    return out;
}

MsgpackValue stringArray(const std::vector<std::string>& items) {
    MsgpackValue out = MsgpackValue::array();
    out.reserve(items.size());
    for (const std::string& item : items) {
        out.push(MsgpackValue::str(item));
    }
    return out;
}

template <size_t N>
MsgpackValue floatArray(const std::array<double, N>& items) {
    MsgpackValue out = MsgpackValue::array();
    out.reserve(N);
    for (double item : items) {
        out.push(MsgpackValue::float64(item));
    }
    return out;
}

MsgpackValue planeArray(const std::vector<Plane>& planes) {
    MsgpackValue out = MsgpackValue::array();
    out.reserve(planes.size());
    for (const Plane& plane : planes) {
        out.push(plane.descriptor.toWire());
    }
    return out;
}

const Plane* findPlane(const std::vector<Plane>& planes, PlaneKind kind) {
    for (const Plane& plane : planes) {
        if (plane.descriptor.kind == kind) {
            return &plane;
        }
    }
    return nullptr;
}

}  // namespace

// ---------------------------------------------------------------------------- toHeader / toWire

MsgpackValue StreamDeclaration::toWire() const {
    MsgpackValue out = MsgpackValue::map();
    out.reserve(10);
    out.append("id", MsgpackValue::unsignedInteger(id));
    out.append("name", MsgpackValue::str(name));
    out.append("width", MsgpackValue::unsignedInteger(width));
    out.append("height", MsgpackValue::unsignedInteger(height));
    out.append("color_format", MsgpackValue::str(pixelFormatName(color_format)));
    if (depth_format) {
        out.append("depth_format", MsgpackValue::str(pixelFormatName(*depth_format)));
    }
    out.append("mask", MsgpackValue::boolean(mask));
    out.append("fps", MsgpackValue::float64(fps));
    if (pipeline) {
        out.append("pipeline", MsgpackValue::str(*pipeline));
    }
    if (audio) {
        out.append("audio", audio->toWire());
    }
    return out;
}

MsgpackValue Hello::toHeader() const {
    MsgpackValue out = baseHeader(kKind, 8);
    out.append("engine", MsgpackValue::str(engine));
    out.append("client", MsgpackValue::str(client));
    out.append("session", MsgpackValue::str(session));
    MsgpackValue declared = MsgpackValue::array();
    for (const StreamDeclaration& stream : streams) {
        declared.push(stream.toWire());
    }
    out.append("streams", std::move(declared));
    out.append("capabilities", stringArray(capabilities));
    out.append("heartbeat_ms", MsgpackValue::unsignedInteger(heartbeat_ms));
    return out;
}

MsgpackValue StreamGrant::toWire() const {
    MsgpackValue out = MsgpackValue::map();
    out.reserve(6);
    out.append("id", MsgpackValue::unsignedInteger(id));
    out.append("pipeline", MsgpackValue::str(pipeline));
    out.append("stages", stringArray(stages));
    out.append("width", MsgpackValue::unsignedInteger(width));
    out.append("height", MsgpackValue::unsignedInteger(height));
    out.append("color_format", MsgpackValue::str(color_format));
    return out;
}

const StreamGrant* Welcome::grant(uint16_t stream) const {
    for (const StreamGrant& g : streams) {
        if (g.id == stream) {
            return &g;
        }
    }
    return nullptr;
}

MsgpackValue Welcome::toHeader() const {
    MsgpackValue out = baseHeader(kKind, 9);
    out.append("server", MsgpackValue::str(server));
    out.append("engine_id", MsgpackValue::str(engine_id));
    out.append("session", MsgpackValue::str(session));
    MsgpackValue grants = MsgpackValue::array();
    for (const StreamGrant& g : streams) {
        grants.push(g.toWire());
    }
    out.append("streams", std::move(grants));
    out.append("heartbeat_ms", MsgpackValue::unsignedInteger(heartbeat_ms));
    out.append("timeout_ms", MsgpackValue::unsignedInteger(timeout_ms));
    out.append("max_frame_bytes", MsgpackValue::unsignedInteger(max_frame_bytes));
    return out;
}

MsgpackValue CameraInfo::toWire() const {
    MsgpackValue out = MsgpackValue::map();
    out.reserve(4);
    out.append("world_from_camera", floatArray(world_from_camera));
    out.append("intrinsics_px", floatArray(intrinsics_px));
    out.append("near_m", MsgpackValue::float64(near_m));
    out.append("far_m", MsgpackValue::float64(far_m));
    return out;
}

const Plane* Frame::plane(PlaneKind kind) const { return findPlane(planes, kind); }

MsgpackValue Frame::toHeader() const {
    MsgpackValue out = baseHeader(kKind, 8);
    out.append("stream", MsgpackValue::unsignedInteger(stream));
    out.append("index", MsgpackValue::unsignedInteger(index));
    out.append("t_capture_ns", MsgpackValue::unsignedInteger(t_capture_ns));
    if (timecode) {
        out.append("timecode", MsgpackValue::str(*timecode));
    }
    out.append("planes", planeArray(planes));
    if (camera) {
        out.append("camera", camera->toWire());
    }
    return out;
}

const Plane* Result::plane(PlaneKind kind) const { return findPlane(planes, kind); }

MsgpackValue Result::toHeader() const {
    MsgpackValue out = baseHeader(kKind, 10);
    out.append("stream", MsgpackValue::unsignedInteger(stream));
    out.append("index", MsgpackValue::unsignedInteger(index));
    out.append("t_capture_ns", MsgpackValue::unsignedInteger(t_capture_ns));
    out.append("planes", planeArray(planes));
    MsgpackValue stages = MsgpackValue::map();
    for (const auto& entry : stage_us) {
        stages.append(entry.first, MsgpackValue::integer(entry.second));
    }
    out.append("stage_us", std::move(stages));
    out.append("server_us", MsgpackValue::unsignedInteger(server_us));
    out.append("dropped", MsgpackValue::unsignedInteger(dropped));
    out.append("held", MsgpackValue::boolean(held));
    return out;
}

MsgpackValue Control::toHeader() const {
    MsgpackValue out = baseHeader(kKind, 7);
    out.append("request_id", MsgpackValue::unsignedInteger(request_id));
    out.append("stream", MsgpackValue::unsignedInteger(stream));
    out.append("stage", MsgpackValue::str(stage));
    out.append("params", params.isMap() ? params : MsgpackValue::map());
    if (glide_ms) {
        out.append("glide_ms", MsgpackValue::float64(*glide_ms));
    }
    return out;
}

MsgpackValue ControlAck::toHeader() const {
    MsgpackValue out = baseHeader(kKind, 7);
    out.append("request_id", MsgpackValue::unsignedInteger(request_id));
    out.append("ok", MsgpackValue::boolean(ok));
    out.append("applied", applied.isMap() ? applied : MsgpackValue::map());
    if (code) {
        out.append("code", MsgpackValue::integer(*code));
    }
    if (reason) {
        out.append("reason", MsgpackValue::str(*reason));
    }
    return out;
}

MsgpackValue StreamStats::toWire() const {
    MsgpackValue out = MsgpackValue::map();
    out.reserve(10);
    out.append("id", MsgpackValue::integer(id));
    out.append("name", MsgpackValue::str(name));
    out.append("frames_in", MsgpackValue::integer(frames_in));
    out.append("frames_out", MsgpackValue::integer(frames_out));
    out.append("dropped", MsgpackValue::integer(dropped));
    out.append("fps_in", MsgpackValue::float64(fps_in));
    out.append("fps_out", MsgpackValue::float64(fps_out));
    out.append("latency_ms_p50", MsgpackValue::float64(latency_ms_p50));
    out.append("latency_ms_p95", MsgpackValue::float64(latency_ms_p95));
    MsgpackValue stages = MsgpackValue::map();
    for (const auto& entry : stage_ms) {
        stages.append(entry.first, MsgpackValue::float64(entry.second));
    }
    out.append("stage_ms", std::move(stages));
    return out;
}

MsgpackValue Stats::toHeader() const {
    MsgpackValue out = baseHeader(kKind, 4);
    if (t_ns) {
        out.append("t_ns", MsgpackValue::integer(*t_ns));
    }
    if (streams) {
        MsgpackValue items = MsgpackValue::array();
        for (const StreamStats& s : *streams) {
            items.push(s.toWire());
        }
        out.append("streams", std::move(items));
    }
    return out;
}

Error Error::fromProtocolError(const ProtocolError& error) {
    Error out;
    out.code = static_cast<int64_t>(error.code);
    const char* name = errorCodeName(error.code);
    out.name = name ? name : "";
    out.message = error.message;
    if (!error.kind.empty()) {
        out.ref_kind = error.kind;
    }
    if (error.stream) {
        out.stream = static_cast<int64_t>(*error.stream);
    }
    if (error.index) {
        out.index = static_cast<int64_t>(*error.index);
    }
    return out;
}

MsgpackValue Error::toHeader() const {
    MsgpackValue out = baseHeader(kKind, 8);
    out.append("code", MsgpackValue::integer(code));
    out.append("name", MsgpackValue::str(name));
    out.append("message", MsgpackValue::str(message));
    if (ref_kind) {
        out.append("ref_kind", MsgpackValue::str(*ref_kind));
    }
    if (stream) {
        out.append("stream", MsgpackValue::integer(*stream));
    }
    if (index) {
        out.append("index", MsgpackValue::integer(*index));
    }
    return out;
}

MsgpackValue Heartbeat::toHeader() const {
    MsgpackValue out = baseHeader(kKind, 3);
    out.append("t_ns", MsgpackValue::unsignedInteger(t_ns));
    return out;
}

MsgpackValue Bye::toHeader() const {
    MsgpackValue out = baseHeader(kKind, 3);
    out.append("reason", MsgpackValue::str(reason));
    return out;
}

MsgpackValue Mocap::toHeader() const {
    MsgpackValue out = baseHeader(kKind, 2 + fields.size());
    for (size_t i = 0; i < fields.size(); ++i) {
        const std::string& key = fields.keyAt(i);
        if (key != "v" && key != "kind") {
            out.append(key, fields.at(i));
        }
    }
    return out;
}

MsgpackValue SessionMember::toWire() const {
    MsgpackValue out = MsgpackValue::map();
    out.reserve(2);
    out.append("engine_id", MsgpackValue::str(engine_id));
    out.append("engine", MsgpackValue::str(engine));
    return out;
}

MsgpackValue SessionEvent::toHeader() const {
    MsgpackValue out = baseHeader(kKind, 9);
    out.append("session", MsgpackValue::str(session));
    out.append("event", MsgpackValue::str(event));
    out.append("engine_id", MsgpackValue::str(engine_id));
    out.append("engine", MsgpackValue::str(engine));
    MsgpackValue items = MsgpackValue::array();
    for (const SessionMember& member : members) {
        items.push(member.toWire());
    }
    out.append("members", std::move(items));
    out.append("state", state.isMap() ? state : MsgpackValue::map());
    if (reason) {
        out.append("reason", MsgpackValue::str(*reason));
    }
    return out;
}

MsgpackValue StateChange::toHeader() const {
    MsgpackValue out = baseHeader(kKind, 7);
    out.append("key", MsgpackValue::str(key));
    out.append("op", MsgpackValue::str(op));
    if (op == "set") {
        out.append("value", value);
    }
    if (by) {
        out.append("by", MsgpackValue::str(*by));
    }
    if (version) {
        out.append("version", MsgpackValue::unsignedInteger(*version));
    }
    return out;
}

// ---------------------------------------------------------------------------- parsing

namespace {

bool parseStreamDeclaration(ParseContext& ctx, const MsgpackValue& value, const std::string& where,
                            StreamDeclaration& out) {
    FieldReader r(ctx, value, where);
    out.id = static_cast<uint16_t>(r.u64("id", Need::Required, 0, 0, kMaxStreamId));
    out.name = r.str("name");
    out.width = static_cast<uint32_t>(r.u64("width", Need::Required, 1, 1, kMaxPlaneSidePx));
    out.height = static_cast<uint32_t>(r.u64("height", Need::Required, 1, 1, kMaxPlaneSidePx));
    const std::string color_format = r.str("color_format");
    const std::optional<std::string> depth_format = r.optStr("depth_format");
    out.mask = r.boolean("mask", Need::Optional, false);
    out.fps = r.f64("fps", Need::Optional, 30.0);
    out.pipeline = r.optStr("pipeline");
    if (const MsgpackValue* audio = r.mapField("audio", Need::Optional)) {
        AudioFormat format;
        parseAudioFormat(ctx, *audio, where + ".audio", format);
        out.audio = format;
    }
    if (ctx.failed) {
        return false;
    }
    PixelFormat format = PixelFormat::RGBA8;
    if (!parsePixelFormat(color_format, format) || !formatAllowedForKind(PlaneKind::Color, format)) {
        ctx.fail(ErrorCode::BadField, where + ".color_format '" + color_format + "' is not one of RGBA8, RGB8, BGRA8");
        return false;
    }
    out.color_format = format;
    if (depth_format) {
        if (!parsePixelFormat(*depth_format, format) || !formatAllowedForKind(PlaneKind::Depth, format)) {
            ctx.fail(ErrorCode::BadField, where + ".depth_format '" + *depth_format + "' is not one of F16, F32");
            return false;
        }
        out.depth_format = format;
    }
    if (!(out.fps > 0.0 && out.fps <= 1000.0)) {
        ctx.fail(ErrorCode::BadField, where + ".fps " + formatDouble(out.fps) + " is outside (0, 1000]");
        return false;
    }
    return true;
}

void parseHello(FieldReader& r, Hello& out) {
    ParseContext& ctx = r.context();
    const MsgpackValue* streams = r.list("streams", Need::Required, kMaxStreamsPerEngine);
    if (streams != nullptr) {
        for (size_t i = 0; i < streams->size() && !ctx.failed; ++i) {
            StreamDeclaration decl;
            if (parseStreamDeclaration(ctx, streams->at(i), "streams[" + std::to_string(i) + "]", decl)) {
                out.streams.push_back(std::move(decl));
            }
        }
    }
    if (!ctx.failed) {
        std::set<uint16_t> ids;
        std::string listed;
        for (const StreamDeclaration& decl : out.streams) {
            listed += (listed.empty() ? "" : ", ") + std::to_string(decl.id);
            ids.insert(decl.id);
        }
        if (ids.size() != out.streams.size()) {
            ctx.fail(ErrorCode::BadField, "streams declares a stream id twice: [" + listed + "]");
        }
    }
    out.capabilities = r.strings("capabilities", Need::Optional);
    out.engine = r.str("engine");
    out.client = r.str("client", Need::Optional, "unknown");
    out.session = r.str("session", Need::Optional, "default");
    out.heartbeat_ms = static_cast<uint32_t>(r.u64("heartbeat_ms", Need::Optional, 1000, 10, 600000));
}

void parseWelcome(FieldReader& r, Welcome& out) {
    ParseContext& ctx = r.context();
    out.server = r.str("server");
    out.engine_id = r.str("engine_id");
    out.session = r.str("session");
    const MsgpackValue* grants = r.list("streams", Need::Required, kMaxContainerEntries);
    if (grants != nullptr) {
        for (size_t i = 0; i < grants->size() && !ctx.failed; ++i) {
            FieldReader g(ctx, grants->at(i), "streams[" + std::to_string(i) + "]");
            StreamGrant grant;
            grant.id = static_cast<uint16_t>(g.u64("id", Need::Required, 0, 0, kMaxStreamId));
            grant.pipeline = g.str("pipeline");
            grant.stages = g.strings("stages", Need::Required);
            grant.width = g.u64("width", Need::Required, 1, 1);
            grant.height = g.u64("height", Need::Required, 1, 1);
            grant.color_format = g.str("color_format");
            out.streams.push_back(std::move(grant));
        }
    }
    out.heartbeat_ms = r.u64("heartbeat_ms", Need::Required, 0, 1);
    out.timeout_ms = r.u64("timeout_ms", Need::Required, 0, 1);
    out.max_frame_bytes = r.u64("max_frame_bytes", Need::Required, 0, 1);
}

void parsePlanes(FieldReader& r, const std::vector<ByteView>& parts, std::vector<Plane>& out) {
    ParseContext& ctx = r.context();
    const MsgpackValue* raw = r.list("planes", Need::Required, kMaxPlanes);
    if (raw == nullptr) {
        return;
    }
    std::vector<PlaneDescriptor> descriptors;
    for (size_t i = 0; i < raw->size(); ++i) {
        PlaneDescriptor desc;
        ProtocolError error;
        if (!planeDescriptorFromWire(raw->at(i), "planes[" + std::to_string(i) + "]", desc, error)) {
            ctx.adopt(error);
            return;
        }
        descriptors.push_back(desc);
    }
    if (parts.size() != descriptors.size()) {
        ctx.fail(ErrorCode::PlaneMismatch, "header declares " + std::to_string(descriptors.size()) +
                                               " planes but the message has " + std::to_string(parts.size()) +
                                               " binary parts");
        return;
    }
    bool seen[3] = {false, false, false};
    for (size_t i = 0; i < descriptors.size(); ++i) {
        const PlaneDescriptor& desc = descriptors[i];
        const std::string where = "planes[" + std::to_string(i) + "]";
        bool& kind_seen = seen[static_cast<size_t>(desc.kind)];
        if (kind_seen) {
            ctx.fail(ErrorCode::PlaneMismatch, where + " repeats plane kind '" + planeKindName(desc.kind) + "'");
            return;
        }
        kind_seen = true;
        if (parts[i].size != desc.byteLength()) {
            ctx.fail(ErrorCode::PlaneMismatch,
                     where + " (" + planeKindName(desc.kind) + ") has " + std::to_string(parts[i].size) +
                         " bytes but " + std::to_string(desc.width) + "x" + std::to_string(desc.height) + " " +
                         pixelFormatName(desc.format) + " with stride " + std::to_string(desc.stride) + " needs " +
                         std::to_string(desc.byteLength()));
            return;
        }
        out.push_back(Plane{desc, parts[i]});
    }
}

void parseFrame(FieldReader& r, const std::vector<ByteView>& parts, Frame& out) {
    ParseContext& ctx = r.context();
    out.stream = static_cast<uint16_t>(r.u64("stream", Need::Required, 0, 0, kMaxStreamId));
    out.index = r.u64("index", Need::Required, 0, 0, kMaxU63);
    const MsgpackValue* camera = r.mapField("camera", Need::Optional);
    out.t_capture_ns = r.u64("t_capture_ns", Need::Required, 0, 0, kMaxU63);
    out.timecode = r.optStr("timecode");
    if (!ctx.failed) {
        ctx.stream = out.stream;
        ctx.index = out.index;
    }
    parsePlanes(r, parts, out.planes);
    if (camera != nullptr && !ctx.failed) {
        FieldReader c(ctx, *camera, r.where() + ".camera");
        CameraInfo info;
        c.floats("world_from_camera", info.world_from_camera);
        c.floats("intrinsics_px", info.intrinsics_px);
        info.near_m = c.f64("near_m");
        info.far_m = c.f64("far_m");
        out.camera = info;
    }
}

void parseResult(FieldReader& r, const std::vector<ByteView>& parts, Result& out) {
    ParseContext& ctx = r.context();
    out.stream = static_cast<uint16_t>(r.u64("stream", Need::Required, 0, 0, kMaxStreamId));
    out.index = r.u64("index", Need::Required, 0, 0, kMaxU63);
    const MsgpackValue* stages = r.mapField("stage_us", Need::Optional);
    if (stages != nullptr) {
        for (size_t i = 0; i < stages->size(); ++i) {
            int64_t micros = 0;
            if (!stages->at(i).toInt64(micros)) {
                ctx.fail(ErrorCode::BadField, "stage_us must map stage names to integers");
                break;
            }
            out.stage_us.emplace_back(stages->keyAt(i), micros);
        }
    }
    out.t_capture_ns = r.u64("t_capture_ns", Need::Required, 0, 0, kMaxU63);
    if (!ctx.failed) {
        ctx.stream = out.stream;
        ctx.index = out.index;
    }
    parsePlanes(r, parts, out.planes);
    out.server_us = r.u64("server_us", Need::Optional, 0, 0);
    out.dropped = r.u64("dropped", Need::Optional, 0, 0);
    out.held = r.boolean("held", Need::Optional, false);
}

bool isParamValue(const MsgpackValue& value) {
    switch (value.type()) {
        case MsgpackType::Int:
        case MsgpackType::Float:
        case MsgpackType::Str:
        case MsgpackType::Bool: return true;
        case MsgpackType::Array:
            for (size_t i = 0; i < value.size(); ++i) {
                if (!value.at(i).isNumber()) {
                    return false;
                }
            }
            return true;
        default: return false;
    }
}

void parseControl(FieldReader& r, Control& out) {
    ParseContext& ctx = r.context();
    const MsgpackValue* params = r.mapField("params", Need::Required);
    if (params != nullptr) {
        for (size_t i = 0; i < params->size(); ++i) {
            if (!isParamValue(params->at(i))) {
                ctx.fail(ErrorCode::BadParamValue,
                         "params." + params->keyAt(i) +
                             " must be a number, boolean, string or array of numbers, got " +
                             msgpackTypeName(params->at(i).type()));
                break;
            }
        }
        out.params = *params;
    }
    out.glide_ms = r.optF64("glide_ms");
    if (out.glide_ms && !(*out.glide_ms >= 0.0 && *out.glide_ms <= 600000.0)) {
        ctx.fail(ErrorCode::BadField, "glide_ms " + formatDouble(*out.glide_ms) + " is outside 0..600000");
    }
    out.request_id = r.u64("request_id", Need::Required, 0, 0, kMaxU63);
    out.stream = static_cast<uint16_t>(r.u64("stream", Need::Required, 0, 0, kMaxStreamId));
    out.stage = r.str("stage");
}

void parseControlAck(FieldReader& r, ControlAck& out) {
    out.request_id = r.u64("request_id", Need::Required, 0, 0);
    out.ok = r.boolean("ok");
    const MsgpackValue* applied = r.mapField("applied", Need::Optional);
    if (applied != nullptr) {
        out.applied = *applied;
    }
    out.code = r.optI64("code");
    out.reason = r.optStr("reason");
}

void parseStreamStats(ParseContext& ctx, const MsgpackValue& value, const std::string& where, StreamStats& out) {
    FieldReader r(ctx, value, where);
    out.id = r.i64("id");
    out.name = r.str("name");
    out.frames_in = r.i64("frames_in");
    out.frames_out = r.i64("frames_out");
    out.dropped = r.i64("dropped");
    out.fps_in = r.f64("fps_in");
    out.fps_out = r.f64("fps_out");
    out.latency_ms_p50 = r.f64("latency_ms_p50");
    out.latency_ms_p95 = r.f64("latency_ms_p95");
    const MsgpackValue* stages = r.mapField("stage_ms", Need::Optional);
    if (stages != nullptr) {
        for (size_t i = 0; i < stages->size(); ++i) {
            double ms = 0.0;
            if (!stages->at(i).toDouble(ms)) {
                ctx.fail(ErrorCode::BadField, where + ".stage_ms must map stage names to numbers");
                return;
            }
            out.stage_ms.emplace_back(stages->keyAt(i), ms);
        }
    }
}

void parseStats(FieldReader& r, Stats& out) {
    ParseContext& ctx = r.context();
    const MsgpackValue* streams = r.list("streams", Need::Optional, kMaxContainerEntries);
    out.t_ns = r.optI64("t_ns");
    if (streams != nullptr) {
        std::vector<StreamStats> items;
        for (size_t i = 0; i < streams->size() && !ctx.failed; ++i) {
            StreamStats s;
            parseStreamStats(ctx, streams->at(i), "streams[" + std::to_string(i) + "]", s);
            items.push_back(std::move(s));
        }
        out.streams = std::move(items);
    }
}

void parseError(FieldReader& r, Error& out) {
    out.code = r.i64("code");
    out.name = r.str("name");
    out.message = r.str("message");
    out.ref_kind = r.optStr("ref_kind");
    out.stream = r.optI64("stream");
    out.index = r.optI64("index");
}

void parseMocap(FieldReader& r, const std::vector<ByteView>& parts, Mocap& out) {
    const MsgpackValue& header = r.value();
    out.fields = MsgpackValue::map();
    for (size_t i = 0; i < header.size(); ++i) {
        if (header.keyAt(i) != "v" && header.keyAt(i) != "kind") {
            out.fields.append(header.keyAt(i), header.at(i));
        }
    }
    out.parts = parts;
}

void parseSessionEvent(FieldReader& r, SessionEvent& out) {
    ParseContext& ctx = r.context();
    out.event = r.str("event");
    if (!ctx.failed && out.event != "snapshot" && out.event != "join" && out.event != "leave") {
        ctx.fail(ErrorCode::BadField, "SESSION.event '" + out.event + "' is not one of snapshot, join, leave");
    }
    out.session = r.str("session");
    out.engine_id = r.str("engine_id");
    out.engine = r.str("engine");
    const MsgpackValue* members = r.list("members", Need::Optional, kMaxContainerEntries);
    if (members != nullptr) {
        for (size_t i = 0; i < members->size() && !ctx.failed; ++i) {
            FieldReader m(ctx, members->at(i), "members[" + std::to_string(i) + "]");
            SessionMember member;
            member.engine_id = m.str("engine_id");
            member.engine = m.str("engine");
            out.members.push_back(std::move(member));
        }
    }
    const MsgpackValue* state = r.mapField("state", Need::Optional);
    if (state != nullptr) {
        out.state = *state;
    }
    out.reason = r.optStr("reason");
}

void parseStateChange(FieldReader& r, StateChange& out) {
    ParseContext& ctx = r.context();
    out.key = r.str("key");
    const size_t key_chars = utf8CodePoints(out.key);
    if (!ctx.failed && (key_chars < 1 || key_chars > kMaxStateKeyChars)) {
        ctx.fail(ErrorCode::BadField, "STATE.key must be 1.." + std::to_string(kMaxStateKeyChars) + " characters");
    }
    out.op = r.str("op", Need::Optional, "set");
    if (!ctx.failed && out.op != "set" && out.op != "delete") {
        ctx.fail(ErrorCode::BadField, "STATE.op '" + out.op + "' is not one of set, delete");
    }
    if (!ctx.failed && out.op == "set") {
        const MsgpackValue* value = r.value().find("value");
        if (value == nullptr) {
            ctx.fail(ErrorCode::BadField, "STATE.value is missing (op 'set')");
        } else if (value->type() == MsgpackType::Bin) {
            ctx.fail(ErrorCode::BadField, "STATE.value must not be binary; use a string or numbers");
        } else if (encodeMsgpack(*value).size() > kMaxStateValueBytes) {
            ctx.fail(ErrorCode::LimitExceeded, "STATE.value of '" + out.key + "' is above " +
                                                   std::to_string(kMaxStateValueBytes) + " bytes encoded");
        } else {
            out.value = *value;
        }
    }
    out.by = r.optStr("by");
    if (!ctx.failed && r.value().contains("version")) {
        out.version = r.u64("version", Need::Required, 0, 0);
    }
}

const char* const kKinds[] = {Hello::kKind,   Welcome::kKind, Frame::kKind,     Result::kKind,
                              Control::kKind, ControlAck::kKind, Stats::kKind, Error::kKind,
                              Heartbeat::kKind, Bye::kKind,    Mocap::kKind, SessionEvent::kKind,
                              StateChange::kKind, Audio::kKind};

}  // namespace

bool isKnownKind(const std::string& kind) {
    return std::any_of(std::begin(kKinds), std::end(kKinds), [&](const char* k) { return kind == k; });
}

const char* messageKind(const Message& message) {
    return std::visit([](const auto& m) { return std::decay_t<decltype(m)>::kKind; }, message);
}

bool parseMessage(const std::vector<ByteView>& parts, Message& out, ProtocolError& error) {
    if (parts.empty()) {
        error = ProtocolError{};
        error.code = ErrorCode::MalformedHeader;
        error.message = "message has no parts";
        return false;
    }
    MsgpackValue header;
    if (!decodeHeader(parts[0], header, error)) {
        return false;
    }
    const std::string kind = header.find("kind")->asString();
    ParseContext ctx;
    ctx.kind = kind;
    if (!isKnownKind(kind)) {
        std::string known;
        for (const char* k : kKinds) {
            known += (known.empty() ? "" : ", ") + std::string(k);
        }
        ctx.fail(ErrorCode::UnknownKind, "unknown message kind '" + kind + "' (known: " + known + ")");
        error = ctx.error;
        return false;
    }
    const std::vector<ByteView> body(parts.begin() + 1, parts.end());
    const bool carries_parts =
        kind == Frame::kKind || kind == Result::kKind || kind == Mocap::kKind || kind == Audio::kKind;
    if (!carries_parts && !body.empty()) {
        ctx.fail(ErrorCode::PlaneMismatch,
                 kind + " carries no binary parts, but " + std::to_string(body.size()) + " followed the header");
        error = ctx.error;
        return false;
    }
    FieldReader r(ctx, header, kind);
    if (kind == Hello::kKind) {
        Hello m;
        parseHello(r, m);
        out = std::move(m);
    } else if (kind == Welcome::kKind) {
        Welcome m;
        parseWelcome(r, m);
        out = std::move(m);
    } else if (kind == Frame::kKind) {
        Frame m;
        parseFrame(r, body, m);
        out = std::move(m);
    } else if (kind == Result::kKind) {
        Result m;
        parseResult(r, body, m);
        out = std::move(m);
    } else if (kind == Control::kKind) {
        Control m;
        parseControl(r, m);
        out = std::move(m);
    } else if (kind == ControlAck::kKind) {
        ControlAck m;
        parseControlAck(r, m);
        out = std::move(m);
    } else if (kind == Stats::kKind) {
        Stats m;
        parseStats(r, m);
        out = std::move(m);
    } else if (kind == Error::kKind) {
        Error m;
        parseError(r, m);
        out = std::move(m);
    } else if (kind == Heartbeat::kKind) {
        Heartbeat m;
        m.t_ns = r.u64("t_ns", Need::Required, 0, 0, kMaxU63);
        out = m;
    } else if (kind == Bye::kKind) {
        Bye m;
        m.reason = r.str("reason", Need::Optional, "");
        out = std::move(m);
    } else if (kind == SessionEvent::kKind) {
        SessionEvent m;
        parseSessionEvent(r, m);
        out = std::move(m);
    } else if (kind == StateChange::kKind) {
        StateChange m;
        parseStateChange(r, m);
        out = std::move(m);
    } else if (kind == Audio::kKind) {
        Audio m;
        parseAudio(r, body, m);
        out = m;
    } else {
        Mocap m;
        parseMocap(r, body, m);
        out = std::move(m);
    }
    if (ctx.failed) {
        error = ctx.error;
        return false;
    }
    return true;
}

MsgpackValue messageHeader(const Message& message) {
    return std::visit([](const auto& m) { return m.toHeader(); }, message);
}

SerializedMessage serializeMessage(const Message& message) {
    SerializedMessage out;
    out.header = encodeHeader(messageHeader(message));
    if (const Frame* frame = std::get_if<Frame>(&message)) {
        for (const Plane& plane : frame->planes) {
            out.payload.push_back(plane.data);
        }
    } else if (const Result* result = std::get_if<Result>(&message)) {
        for (const Plane& plane : result->planes) {
            out.payload.push_back(plane.data);
        }
    } else if (const Mocap* mocap = std::get_if<Mocap>(&message)) {
        out.payload = mocap->parts;
    } else if (const Audio* audio = std::get_if<Audio>(&message)) {
        out.payload.push_back(audio->pcm);
    }
    return out;
}

}  // namespace protocol
}  // namespace mbridge
