// Header part codec: canonical encode, checked decode (see Protocol/HeaderCodec.h).
#include "Protocol/HeaderCodec.h"

#include <string>

namespace mbridge {
namespace protocol {

std::vector<uint8_t> encodeHeader(const MsgpackValue& header) { return encodeMsgpack(header); }

namespace {

bool failHeader(ProtocolError& error, ErrorCode code, std::string message) {
    error = ProtocolError{};
    error.code = code;
    error.message = std::move(message);
    return false;
}

}  // namespace

bool decodeHeader(ByteView part, MsgpackValue& header, ProtocolError& error) {
    if (part.size == 0) {
        return failHeader(error, ErrorCode::MalformedHeader, "header part is empty");
    }
    if (part.size > kMaxHeaderBytes) {
        return failHeader(error, ErrorCode::MalformedHeader,
                          "header part is " + std::to_string(part.size) + " bytes, above the " +
                              std::to_string(kMaxHeaderBytes) + "-byte limit");
    }
    MsgpackLimits limits;
    limits.max_container_entries = kMaxContainerEntries;
    limits.max_str_bytes = kMaxHeaderBytes;
    std::string cause;
    MsgpackValue value;
    if (!decodeMsgpack(part, value, cause, limits)) {
        return failHeader(error, ErrorCode::MalformedHeader, "header part is not valid msgpack (" + cause + ")");
    }
    if (!value.isMap()) {
        return failHeader(error, ErrorCode::MalformedHeader,
                          std::string("header must be a msgpack map, got ") + msgpackTypeName(value.type()));
    }
    const MsgpackValue* version = value.find("v");
    if (version == nullptr) {
        return failHeader(error, ErrorCode::MalformedHeader, "header has no protocol version field 'v'");
    }
    if (!version->isInt()) {
        return failHeader(error, ErrorCode::BadVersion,
                          std::string("'v' must be an integer, got ") + msgpackTypeName(version->type()));
    }
    int64_t number = 0;
    if (!version->toInt64(number) || number != kProtocolVersion) {
        return failHeader(error, ErrorCode::BadVersion,
                          "protocol version " + version->toDebugString() + " is not supported (this peer speaks " +
                              std::to_string(kProtocolVersion) + ")");
    }
    const MsgpackValue* kind = value.find("kind");
    if (kind == nullptr || !kind->isStr()) {
        return failHeader(error, ErrorCode::MalformedHeader, "header has no string field 'kind'");
    }
    header = std::move(value);
    return true;
}

}  // namespace protocol
}  // namespace mbridge
