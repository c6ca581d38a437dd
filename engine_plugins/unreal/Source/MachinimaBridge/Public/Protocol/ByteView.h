// A non-owning view of bytes: a plane's pixels or one message part.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mbridge {
namespace protocol {

struct ByteView {
    const uint8_t* data = nullptr;
    size_t size = 0;

    ByteView() = default;
    ByteView(const uint8_t* bytes, size_t count) : data(bytes), size(count) {}
    explicit ByteView(const std::vector<uint8_t>& bytes) : data(bytes.data()), size(bytes.size()) {}
    explicit ByteView(const std::string& bytes)
        : data(reinterpret_cast<const uint8_t*>(bytes.data())), size(bytes.size()) {}

    bool sameBytes(const ByteView& other) const;
};

}  // namespace protocol
}  // namespace mbridge
