// The header part (part 0): one msgpack map, encoded canonically, decoded with the checks of
// docs/protocol.md sections 3.1 and 4 (MALFORMED_HEADER, BAD_VERSION).
#pragma once

#include <cstdint>
#include <vector>

#include "Protocol/ByteView.h"
#include "Protocol/Msgpack.h"
#include "Protocol/ProtocolErrors.h"

namespace mbridge {
namespace protocol {

constexpr int64_t kProtocolVersion = 1;
constexpr size_t kMaxHeaderBytes = 65536;
constexpr size_t kMaxStringChars = 1024;      // code points, not bytes
constexpr size_t kMaxContainerEntries = 4096;  // per array or map in a header

// Canonical bytes of a header map (keys in the order the map holds them).
std::vector<uint8_t> encodeHeader(const MsgpackValue& header);

// Part 0 -> the header map.  Fails with MALFORMED_HEADER (empty, above 65536 bytes, not
// msgpack, truncated, trailing bytes, not a map, a non-str or repeated key, no "v", no str
// "kind") or BAD_VERSION ("v" not an integer, or not 1).
bool decodeHeader(ByteView part, MsgpackValue& header, ProtocolError& error);

}  // namespace protocol
}  // namespace mbridge
