// Message kinds of wire protocol v1 (docs/protocol.md section 6) with parse and serialize.
//
// A message is a ZeroMQ multipart message: part 0 is the header map, parts 1..N the planes
// declared in the header's `planes` array (FRAME and RESULT), any parts (MOCAP), or the samples
// (AUDIO, declared in Protocol/AudioMessages.h).  Field
// names are the wire keys; field order in each struct is the canonical key order.  Optional
// fields (O in the tables) are std::optional; fields with defaults (D) are plain members that
// are always written.
//
// Parsing never copies plane bytes: Plane::data, Mocap::parts and Audio::pcm point into the parts
// given to parseMessage, which the caller keeps alive as long as the message.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "Protocol/AudioMessages.h"
#include "Protocol/ByteView.h"
#include "Protocol/HeaderCodec.h"
#include "Protocol/Msgpack.h"
#include "Protocol/Planes.h"
#include "Protocol/ProtocolErrors.h"

namespace mbridge {
namespace protocol {

constexpr size_t kMaxStreamsPerEngine = 16;
constexpr size_t kMaxPlanes = 4;
constexpr uint64_t kMaxStreamId = 65535;
constexpr uint64_t kMaxU63 = 0x7fffffffffffffffULL;

// ---------------------------------------------------------------------------- HELLO / WELCOME

struct StreamDeclaration {
    uint16_t id = 0;
    std::string name;
    uint32_t width = 0;   // px
    uint32_t height = 0;  // px
    PixelFormat color_format = PixelFormat::RGBA8;
    std::optional<PixelFormat> depth_format;
    bool mask = false;
    double fps = 30.0;
    std::optional<std::string> pipeline;
    std::optional<AudioFormat> audio;  // the stream also sends AUDIO chunks of this format

    MsgpackValue toWire() const;
};

struct Hello {
    static constexpr const char* kKind = "HELLO";
    std::string engine;
    std::string client = "unknown";
    std::string session = "default";
    std::vector<StreamDeclaration> streams;
    std::vector<std::string> capabilities;
    uint32_t heartbeat_ms = 1000;

    MsgpackValue toHeader() const;
};

struct StreamGrant {
    uint16_t id = 0;
    std::string pipeline;
    std::vector<std::string> stages;
    uint64_t width = 0;
    uint64_t height = 0;
    std::string color_format;  // kept as sent: a later server may announce formats this build lacks

    MsgpackValue toWire() const;
};

struct Welcome {
    static constexpr const char* kKind = "WELCOME";
    std::string server;
    std::string engine_id;
    std::string session;
    std::vector<StreamGrant> streams;
    uint64_t heartbeat_ms = 0;
    uint64_t timeout_ms = 0;
    uint64_t max_frame_bytes = 0;

    const StreamGrant* grant(uint16_t stream) const;
    MsgpackValue toHeader() const;
};

// ---------------------------------------------------------------------------- FRAME / RESULT

// Camera pose (4x4 world-from-camera, row-major, metres; OpenCV camera axes, right-handed z-up
// world) and pinhole intrinsics fx, fy, cx, cy in pixels (docs/protocol.md section 6.3).
struct CameraInfo {
    std::array<double, 16> world_from_camera{};
    std::array<double, 4> intrinsics_px{};
    double near_m = 0.0;
    double far_m = 0.0;

    MsgpackValue toWire() const;
};

struct Frame {
    static constexpr const char* kKind = "FRAME";
    uint16_t stream = 0;
    uint64_t index = 0;
    uint64_t t_capture_ns = 0;
    std::optional<std::string> timecode;
    std::vector<Plane> planes;
    std::optional<CameraInfo> camera;

    const Plane* plane(PlaneKind kind) const;
    MsgpackValue toHeader() const;
};

struct Result {
    static constexpr const char* kKind = "RESULT";
    uint16_t stream = 0;
    uint64_t index = 0;
    uint64_t t_capture_ns = 0;
    std::vector<Plane> planes;
    std::vector<std::pair<std::string, int64_t>> stage_us;  // in pipeline order
    uint64_t server_us = 0;
    uint64_t dropped = 0;
    bool held = false;

    const Plane* plane(PlaneKind kind) const;
    MsgpackValue toHeader() const;
};

// ---------------------------------------------------------------------------- CONTROL

struct Control {
    static constexpr const char* kKind = "CONTROL";
    uint64_t request_id = 0;
    uint16_t stream = 0;
    std::string stage;
    // Free-form map: parameter name -> int, float, bool, str or array of numbers, in the order
    // the sender holds them.  Use MsgpackValue::map() and append().
    MsgpackValue params = MsgpackValue::map();
    std::optional<double> glide_ms;

    MsgpackValue toHeader() const;
};

struct ControlAck {
    static constexpr const char* kKind = "CONTROL_ACK";
    uint64_t request_id = 0;
    bool ok = false;
    MsgpackValue applied = MsgpackValue::map();  // free-form map, values as applied
    std::optional<int64_t> code;
    std::optional<std::string> reason;

    MsgpackValue toHeader() const;
};

// ---------------------------------------------------------------------------- STATS

struct StreamStats {
    int64_t id = 0;
    std::string name;
    int64_t frames_in = 0;
    int64_t frames_out = 0;
    int64_t dropped = 0;
    double fps_in = 0.0;
    double fps_out = 0.0;
    double latency_ms_p50 = 0.0;
    double latency_ms_p95 = 0.0;
    std::vector<std::pair<std::string, double>> stage_ms;

    MsgpackValue toWire() const;
};

// From an engine (no `streams`): a request.  From the server: the report for that engine.
struct Stats {
    static constexpr const char* kKind = "STATS";
    std::optional<int64_t> t_ns;
    std::optional<std::vector<StreamStats>> streams;

    MsgpackValue toHeader() const;
};

// ---------------------------------------------------------------------------- ERROR, HEARTBEAT, BYE

struct Error {
    static constexpr const char* kKind = "ERROR";
    int64_t code = 0;  // may be a number this build does not know (errorCodeName returns nullptr)
    std::string name;
    std::string message;
    std::optional<std::string> ref_kind;
    std::optional<int64_t> stream;
    std::optional<int64_t> index;

    static Error fromProtocolError(const ProtocolError& error);
    MsgpackValue toHeader() const;
};

struct Heartbeat {
    static constexpr const char* kKind = "HEARTBEAT";
    uint64_t t_ns = 0;

    MsgpackValue toHeader() const;
};

struct Bye {
    static constexpr const char* kKind = "BYE";
    std::string reason;

    MsgpackValue toHeader() const;
};

// ---------------------------------------------------------------------------- MOCAP (reserved)

// Reserved for the mocap relay (docs/protocol.md section 6.11).  The header's keys other than
// `v` and `kind` are kept as a generic value tree in received order and re-encoded as received,
// so fields the mocap relay adds later pass through this build unchanged.
struct Mocap {
    static constexpr const char* kKind = "MOCAP";
    MsgpackValue fields = MsgpackValue::map();
    std::vector<ByteView> parts;

    MsgpackValue toHeader() const;
};

// ---------------------------------------------------------------------------- SESSION, STATE

constexpr size_t kMaxStateKeyChars = 256;
constexpr size_t kMaxStateValueBytes = 16384;

struct SessionMember {
    std::string engine_id;
    std::string engine;

    MsgpackValue toWire() const;
};

// Server -> engine (capability "session"): `snapshot` right after WELCOME (members and the whole
// shared state), `join` / `leave` when another engine enters or leaves (docs/protocol.md 6.12).
struct SessionEvent {
    static constexpr const char* kKind = "SESSION";
    std::string session;
    std::string event;  // "snapshot", "join", "leave"
    std::string engine_id;
    std::string engine;
    std::vector<SessionMember> members;
    MsgpackValue state = MsgpackValue::map();  // key -> any value, in received order
    std::optional<std::string> reason;         // leave: "bye", "timeout", "disconnected", "replaced"

    MsgpackValue toHeader() const;
};

// Engine -> server: set or delete one key of the session's shared state.  Server -> every
// "session" engine: the change as applied, with `by` and `version` (docs/protocol.md 6.13).
struct StateChange {
    static constexpr const char* kKind = "STATE";
    std::string key;
    std::string op = "set";  // "set" or "delete"
    MsgpackValue value;      // any value but bin (nil allowed); written only for "set"
    std::optional<std::string> by;
    std::optional<uint64_t> version;

    MsgpackValue toHeader() const;
};

// ---------------------------------------------------------------------------- any message

using Message = std::variant<Hello, Welcome, Frame, Result, Control, ControlAck, Stats, Error, Heartbeat, Bye, Mocap,
                             SessionEvent, StateChange, Audio>;

// "HELLO", "WELCOME", ... for the alternative the message holds.
const char* messageKind(const Message& message);
// True for the kinds of this protocol version (MOCAP included).
bool isKnownKind(const std::string& kind);

// Parses a multipart message.  On failure returns false and fills `error` with the code the
// Python server would report (docs/protocol.md sections 3-6, 8; the golden invalid vectors).
bool parseMessage(const std::vector<ByteView>& parts, Message& out, ProtocolError& error);

// Header bytes plus the views of the parts that follow (planes of FRAME/RESULT, MOCAP parts, the
// AUDIO samples).
struct SerializedMessage {
    std::vector<uint8_t> header;
    std::vector<ByteView> payload;
};
SerializedMessage serializeMessage(const Message& message);
MsgpackValue messageHeader(const Message& message);

}  // namespace protocol
}  // namespace mbridge
