// Error code names of wire protocol v1 (see Protocol/ProtocolErrors.h).
#include "Protocol/ProtocolErrors.h"

namespace mbridge {
namespace protocol {

const char* errorCodeName(int64_t code) {
    switch (code) {
        case 1: return "MALFORMED_HEADER";
        case 2: return "BAD_VERSION";
        case 3: return "UNKNOWN_KIND";
        case 4: return "BAD_FIELD";
        case 5: return "NOT_WELCOMED";
        case 6: return "UNKNOWN_STREAM";
        case 7: return "PLANE_MISMATCH";
        case 8: return "FRAME_TOO_LARGE";
        case 9: return "UNKNOWN_STAGE";
        case 10: return "UNKNOWN_PARAM";
        case 11: return "BAD_PARAM_VALUE";
        case 12: return "PIPELINE_FAILED";
        case 13: return "LIMIT_EXCEEDED";
        case 14: return "UNSUPPORTED";
        case 15: return "SHUTTING_DOWN";
        case 16: return "TIMEOUT";
        default: return nullptr;
    }
}

std::string ProtocolError::describe() const {
    const char* name = errorCodeName(code);
    return std::string(name ? name : "UNKNOWN_ERROR") + ": " + message;
}

}  // namespace protocol
}  // namespace mbridge
