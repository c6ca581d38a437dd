// Error codes of wire protocol v1 (docs/protocol.md section 9, bridge/protocol/errors.py) and
// the error a failed parse reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace mbridge {
namespace protocol {

// The numbers are part of protocol version 1 and never change.
enum class ErrorCode : int32_t {
    MalformedHeader = 1,  // header part is not a msgpack map with string keys
    BadVersion = 2,       // "v" is not a protocol version this peer speaks
    UnknownKind = 3,      // "kind" names no message kind
    BadField = 4,         // a field is missing, has the wrong type, or is out of range
    NotWelcomed = 5,      // FRAME/CONTROL/STATS before a successful HELLO
    UnknownStream = 6,    // stream id not declared in this engine's HELLO
    PlaneMismatch = 7,    // plane count, shape, format or byte length disagree
    FrameTooLarge = 8,    // message bytes above the server's cap
    UnknownStage = 9,     // CONTROL names a stage not in the stream's pipeline
    UnknownParam = 10,    // CONTROL names a parameter the stage does not have
    BadParamValue = 11,   // CONTROL value of the wrong type or out of range
    PipelineFailed = 12,  // a stage raised while setting up or processing
    LimitExceeded = 13,   // too many streams, parts, too large a resolution
    Unsupported = 14,     // a reserved kind or feature this server does not serve
    ShuttingDown = 15,    // the server is stopping
    Timeout = 16,         // the peer was silent longer than the heartbeat timeout
};

// "MALFORMED_HEADER" ... "TIMEOUT"; nullptr for a number this version does not define
// (ERROR messages may carry such numbers: engines must accept them).
const char* errorCodeName(int64_t code);
inline const char* errorCodeName(ErrorCode code) { return errorCodeName(static_cast<int64_t>(code)); }

// Why a message was rejected: the code, a message naming the field or cause, and, when known,
// the message kind, stream and frame index (so an ERROR sent back can name them).
struct ProtocolError {
    ErrorCode code = ErrorCode::MalformedHeader;
    std::string message;
    std::string kind;
    std::optional<uint64_t> stream;
    std::optional<uint64_t> index;

    // "PLANE_MISMATCH: planes[0] (color) has 31 bytes but ..."
    std::string describe() const;
};

}  // namespace protocol
}  // namespace mbridge
