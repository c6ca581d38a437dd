// Minimal msgpack: value tree, canonical writer, checked reader (see Protocol/Msgpack.h).
#include "Protocol/Msgpack.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>

namespace mbridge {
namespace protocol {

bool ByteView::sameBytes(const ByteView& other) const {
    if (size != other.size) {
        return false;
    }
    return size == 0 || std::memcmp(data, other.data, size) == 0;
}

const char* msgpackTypeName(MsgpackType type) {
    switch (type) {
        case MsgpackType::Nil: return "nil";
        case MsgpackType::Bool: return "bool";
        case MsgpackType::Int: return "int";
        case MsgpackType::Float: return "float";
        case MsgpackType::Str: return "str";
        case MsgpackType::Bin: return "bin";
        case MsgpackType::Array: return "array";
        case MsgpackType::Map: return "map";
        case MsgpackType::Ext: return "ext";
    }
    return "unknown";
}

// ------------------------------------------------------------------------------ MsgpackValue

MsgpackValue MsgpackValue::nil() { return MsgpackValue(); }

MsgpackValue MsgpackValue::boolean(bool value) {
    MsgpackValue v;
    v.type_ = MsgpackType::Bool;
    v.bool_ = value;
    return v;
}

MsgpackValue MsgpackValue::integer(int64_t value) {
    MsgpackValue v;
    v.type_ = MsgpackType::Int;
    v.negative_ = value < 0;
    v.uint_ = static_cast<uint64_t>(value);
    return v;
}

MsgpackValue MsgpackValue::unsignedInteger(uint64_t value) {
    MsgpackValue v;
    v.type_ = MsgpackType::Int;
    v.uint_ = value;
    return v;
}

MsgpackValue MsgpackValue::float64(double value) {
    MsgpackValue v;
    v.type_ = MsgpackType::Float;
    v.float_ = value;
    return v;
}

MsgpackValue MsgpackValue::str(std::string value) {
    MsgpackValue v;
    v.type_ = MsgpackType::Str;
    v.bytes_ = std::move(value);
    return v;
}

MsgpackValue MsgpackValue::bin(std::string bytes) {
    MsgpackValue v;
    v.type_ = MsgpackType::Bin;
    v.bytes_ = std::move(bytes);
    return v;
}

MsgpackValue MsgpackValue::ext(int8_t ext_type, std::string bytes) {
    MsgpackValue v;
    v.type_ = MsgpackType::Ext;
    v.ext_type_ = ext_type;
    v.bytes_ = std::move(bytes);
    return v;
}

MsgpackValue MsgpackValue::array() {
    MsgpackValue v;
    v.type_ = MsgpackType::Array;
    return v;
}

MsgpackValue MsgpackValue::map() {
    MsgpackValue v;
    v.type_ = MsgpackType::Map;
    return v;
}

bool MsgpackValue::toInt64(int64_t& out) const {
    if (type_ != MsgpackType::Int) {
        return false;
    }
    if (negative_) {
        out = static_cast<int64_t>(uint_);
        return true;
    }
    if (uint_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return false;
    }
    out = static_cast<int64_t>(uint_);
    return true;
}

bool MsgpackValue::toUint64(uint64_t& out) const {
    if (type_ != MsgpackType::Int || negative_) {
        return false;
    }
    out = uint_;
    return true;
}

bool MsgpackValue::toDouble(double& out) const {
    if (type_ == MsgpackType::Float) {
        out = float_;
        return true;
    }
    if (type_ == MsgpackType::Int) {
        out = negative_ ? static_cast<double>(static_cast<int64_t>(uint_)) : static_cast<double>(uint_);
        return true;
    }
    return false;
}

const MsgpackValue* MsgpackValue::find(const std::string& key) const {
    if (type_ != MsgpackType::Map) {
        return nullptr;
    }
    for (size_t i = 0; i < keys_.size(); ++i) {
        if (keys_[i] == key) {
            return &items_[i];
        }
    }
    return nullptr;
}

void MsgpackValue::push(MsgpackValue item) { items_.push_back(std::move(item)); }

void MsgpackValue::append(std::string key, MsgpackValue value) {
    keys_.push_back(std::move(key));
    items_.push_back(std::move(value));
}

void MsgpackValue::reserve(size_t entries) {
    items_.reserve(entries);
    if (type_ == MsgpackType::Map) {
        keys_.reserve(entries);
    }
}

bool MsgpackValue::operator==(const MsgpackValue& other) const {
    if (type_ != other.type_) {
        return false;
    }
    switch (type_) {
        case MsgpackType::Nil: return true;
        case MsgpackType::Bool: return bool_ == other.bool_;
        case MsgpackType::Int: return negative_ == other.negative_ && uint_ == other.uint_;
        case MsgpackType::Float: return float_ == other.float_;
        case MsgpackType::Str:
        case MsgpackType::Bin: return bytes_ == other.bytes_;
        case MsgpackType::Ext: return ext_type_ == other.ext_type_ && bytes_ == other.bytes_;
        case MsgpackType::Array: return items_ == other.items_;
        case MsgpackType::Map: return keys_ == other.keys_ && items_ == other.items_;
    }
    return false;
}

namespace {

void appendJsonString(std::string& out, const std::string& text) {
    out.push_back('"');
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (u < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(u));
            out += buf;
        } else {
            out.push_back(c);
        }
    }
    out.push_back('"');
}

void appendHex(std::string& out, const std::string& bytes) {
    static const char kDigits[] = "0123456789abcdef";
    for (char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        out.push_back(kDigits[u >> 4]);
        out.push_back(kDigits[u & 0x0f]);
    }
}

}  // namespace

std::string MsgpackValue::toDebugString() const {
    std::string out;
    char buf[40];
    switch (type_) {
        case MsgpackType::Nil: return "nil";
        case MsgpackType::Bool: return bool_ ? "true" : "false";
        case MsgpackType::Int:
            if (negative_) {
                std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(static_cast<int64_t>(uint_)));
            } else {
                std::snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(uint_));
            }
            return buf;
        case MsgpackType::Float: return formatDouble(float_);
        case MsgpackType::Str:
            appendJsonString(out, bytes_);
            return out;
        case MsgpackType::Bin:
            out = "bin(";
            appendHex(out, bytes_);
            return out + ")";
        case MsgpackType::Ext:
            std::snprintf(buf, sizeof(buf), "ext(%d, ", static_cast<int>(ext_type_));
            out = buf;
            appendHex(out, bytes_);
            return out + ")";
        case MsgpackType::Array:
            out = "[";
            for (size_t i = 0; i < items_.size(); ++i) {
                out += (i ? ", " : "") + items_[i].toDebugString();
            }
            return out + "]";
        case MsgpackType::Map:
            out = "{";
            for (size_t i = 0; i < items_.size(); ++i) {
                if (i) {
                    out += ", ";
                }
                appendJsonString(out, keys_[i]);
                out += ": " + items_[i].toDebugString();
            }
            return out + "}";
    }
    return out;
}

std::string formatDouble(double value) {
    char buf[40];
    // The shortest text that reads back as the same double, as Python prints floats.
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof(buf), "%.*g", precision, value);
        if (std::strtod(buf, nullptr) == value || precision == 17) {
            break;
        }
    }
    std::string text = buf;
    if (text.find_first_of(".eEn") == std::string::npos) {
        text += ".0";  // keep the float/int distinction visible, as the JSON vectors do
    }
    return text;
}

// ------------------------------------------------------------------------------ writer

void MsgpackWriter::bigEndian(uint64_t value, int bytes) {
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
        byte(static_cast<uint8_t>((value >> shift) & 0xff));
    }
}

void MsgpackWriter::writeNil() { byte(0xc0); }

void MsgpackWriter::writeBool(bool value) { byte(value ? 0xc3 : 0xc2); }

void MsgpackWriter::writeUint(uint64_t value) {
    if (value < 0x80) {
        byte(static_cast<uint8_t>(value));
    } else if (value <= 0xff) {
        byte(0xcc);
        bigEndian(value, 1);
    } else if (value <= 0xffff) {
        byte(0xcd);
        bigEndian(value, 2);
    } else if (value <= 0xffffffffULL) {
        byte(0xce);
        bigEndian(value, 4);
    } else {
        byte(0xcf);
        bigEndian(value, 8);
    }
}

void MsgpackWriter::writeInt(int64_t value) {
    if (value >= 0) {
        writeUint(static_cast<uint64_t>(value));
        return;
    }
    const auto bits = static_cast<uint64_t>(value);
    if (value >= -32) {
        byte(static_cast<uint8_t>(bits & 0xff));  // negative fixint 0xe0..0xff
    } else if (value >= -128) {
        byte(0xd0);
        bigEndian(bits, 1);
    } else if (value >= -32768) {
        byte(0xd1);
        bigEndian(bits, 2);
    } else if (value >= -2147483648LL) {
        byte(0xd2);
        bigEndian(bits, 4);
    } else {
        byte(0xd3);
        bigEndian(bits, 8);
    }
}

void MsgpackWriter::writeFloat64(double value) {
    uint64_t bits = 0;
    static_assert(sizeof(bits) == sizeof(value), "double must be 64-bit IEEE 754");
    std::memcpy(&bits, &value, sizeof(bits));
    byte(0xcb);
    bigEndian(bits, 8);
}

void MsgpackWriter::writeStr(const std::string& value) { writeStr(value.data(), value.size()); }

void MsgpackWriter::writeStr(const char* data, size_t size) {
    if (size <= 31) {
        byte(static_cast<uint8_t>(0xa0 | size));
    } else if (size <= 0xff) {
        byte(0xd9);
        bigEndian(size, 1);
    } else if (size <= 0xffff) {
        byte(0xda);
        bigEndian(size, 2);
    } else {
        byte(0xdb);
        bigEndian(size, 4);
    }
    out_.insert(out_.end(), reinterpret_cast<const uint8_t*>(data), reinterpret_cast<const uint8_t*>(data) + size);
}

void MsgpackWriter::writeBin(const uint8_t* data, size_t size) {
    if (size <= 0xff) {
        byte(0xc4);
        bigEndian(size, 1);
    } else if (size <= 0xffff) {
        byte(0xc5);
        bigEndian(size, 2);
    } else {
        byte(0xc6);
        bigEndian(size, 4);
    }
    out_.insert(out_.end(), data, data + size);
}

void MsgpackWriter::writeExt(int8_t ext_type, const uint8_t* data, size_t size) {
    switch (size) {
        case 1: byte(0xd4); break;
        case 2: byte(0xd5); break;
        case 4: byte(0xd6); break;
        case 8: byte(0xd7); break;
        case 16: byte(0xd8); break;
        default:
            if (size <= 0xff) {
                byte(0xc7);
                bigEndian(size, 1);
            } else if (size <= 0xffff) {
                byte(0xc8);
                bigEndian(size, 2);
            } else {
                byte(0xc9);
                bigEndian(size, 4);
            }
    }
    byte(static_cast<uint8_t>(ext_type));
    out_.insert(out_.end(), data, data + size);
}

void MsgpackWriter::writeArrayHeader(size_t entries) {
    if (entries <= 15) {
        byte(static_cast<uint8_t>(0x90 | entries));
    } else if (entries <= 0xffff) {
        byte(0xdc);
        bigEndian(entries, 2);
    } else {
        byte(0xdd);
        bigEndian(entries, 4);
    }
}

void MsgpackWriter::writeMapHeader(size_t entries) {
    if (entries <= 15) {
        byte(static_cast<uint8_t>(0x80 | entries));
    } else if (entries <= 0xffff) {
        byte(0xde);
        bigEndian(entries, 2);
    } else {
        byte(0xdf);
        bigEndian(entries, 4);
    }
}

void MsgpackWriter::writeValue(const MsgpackValue& value) {
    switch (value.type()) {
        case MsgpackType::Nil: writeNil(); return;
        case MsgpackType::Bool: writeBool(value.asBool()); return;
        case MsgpackType::Int: {
            int64_t signed_value = 0;
            uint64_t unsigned_value = 0;
            if (value.toUint64(unsigned_value)) {
                writeUint(unsigned_value);
            } else if (value.toInt64(signed_value)) {
                writeInt(signed_value);
            }
            return;
        }
        case MsgpackType::Float: writeFloat64(value.asFloat()); return;
        case MsgpackType::Str: writeStr(value.asString()); return;
        case MsgpackType::Bin:
            writeBin(reinterpret_cast<const uint8_t*>(value.asString().data()), value.asString().size());
            return;
        case MsgpackType::Ext:
            writeExt(value.extType(), reinterpret_cast<const uint8_t*>(value.asString().data()),
                     value.asString().size());
            return;
        case MsgpackType::Array:
            writeArrayHeader(value.size());
            for (size_t i = 0; i < value.size(); ++i) {
                writeValue(value.at(i));
            }
            return;
        case MsgpackType::Map:
            writeMapHeader(value.size());
            for (size_t i = 0; i < value.size(); ++i) {
                writeStr(value.keyAt(i));
                writeValue(value.at(i));
            }
            return;
    }
}

std::vector<uint8_t> encodeMsgpack(const MsgpackValue& value) {
    std::vector<uint8_t> out;
    out.reserve(256);
    MsgpackWriter writer(out);
    writer.writeValue(value);
    return out;
}

// ------------------------------------------------------------------------------ UTF-8

bool isValidUtf8(const char* data, size_t size) {
    const auto* s = reinterpret_cast<const unsigned char*>(data);
    size_t i = 0;
    while (i < size) {
        const unsigned char c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t extra = 0;
        unsigned char lo = 0x80;
        unsigned char hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            if (c == 0xe0) {
                lo = 0xa0;  // no overlong forms
            } else if (c == 0xed) {
                hi = 0x9f;  // no surrogates
            }
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            if (c == 0xf0) {
                lo = 0x90;
            } else if (c == 0xf4) {
                hi = 0x8f;  // nothing above U+10FFFF
            }
        } else {
            return false;
        }
        if (size - i <= extra) {
            return false;
        }
        if (s[i + 1] < lo || s[i + 1] > hi) {
            return false;
        }
        for (size_t k = 2; k <= extra; ++k) {
            if (s[i + k] < 0x80 || s[i + k] > 0xbf) {
                return false;
            }
        }
        i += extra + 1;
    }
    return true;
}

size_t utf8CodePoints(const std::string& text) {
    size_t count = 0;
    for (char c : text) {
        if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) {
            ++count;
        }
    }
    return count;
}

// ------------------------------------------------------------------------------ reader

namespace {

class MsgpackReader {
public:
    MsgpackReader(ByteView bytes, const MsgpackLimits& limits, std::string& error)
        : data_(bytes.data), size_(bytes.size), limits_(limits), error_(error) {}

    bool readValue(MsgpackValue& out, size_t depth);
    size_t offset() const { return pos_; }

private:
    bool fail(const std::string& message) {
        error_ = message;
        return false;
    }
    bool need(size_t count, const char* what) {
        if (size_ - pos_ < count) {
            char buf[160];
            std::snprintf(buf, sizeof(buf), "truncated: %s at byte %zu needs %zu bytes, %zu left", what, pos_,
                          count, size_ - pos_);
            return fail(buf);
        }
        return true;
    }
    uint64_t readBigEndian(int bytes) {
        uint64_t value = 0;
        for (int i = 0; i < bytes; ++i) {
            value = (value << 8) | data_[pos_++];
        }
        return value;
    }
    bool readLength(int bytes, const char* what, uint64_t& length) {
        if (!need(static_cast<size_t>(bytes), what)) {
            return false;
        }
        length = readBigEndian(bytes);
        return true;
    }
    bool readBytes(uint64_t length, const char* what, std::string& out) {
        if (length > limits_.max_str_bytes) {
            char buf[128];
            std::snprintf(buf, sizeof(buf), "%s at byte %zu is %llu bytes, above the %zu-byte limit", what, pos_,
                          static_cast<unsigned long long>(length), limits_.max_str_bytes);
            return fail(buf);
        }
        if (!need(static_cast<size_t>(length), what)) {
            return false;
        }
        out.assign(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(length));
        pos_ += static_cast<size_t>(length);
        return true;
    }
    bool readStr(uint64_t length, MsgpackValue& out) {
        const size_t start = pos_;
        std::string text;
        if (!readBytes(length, "str", text)) {
            return false;
        }
        if (!isValidUtf8(text.data(), text.size())) {
            char buf[96];
            std::snprintf(buf, sizeof(buf), "str at byte %zu is not valid UTF-8", start);
            return fail(buf);
        }
        out = MsgpackValue::str(std::move(text));
        return true;
    }
    bool readExt(uint64_t length, MsgpackValue& out) {
        if (!need(1, "ext type")) {
            return false;
        }
        const auto ext_type = static_cast<int8_t>(data_[pos_++]);
        std::string payload;
        if (!readBytes(length, "ext", payload)) {
            return false;
        }
        out = MsgpackValue::ext(ext_type, std::move(payload));
        return true;
    }
    bool checkEntries(uint64_t entries, const char* what) {
        if (entries > limits_.max_container_entries) {
            char buf[128];
            std::snprintf(buf, sizeof(buf), "%s at byte %zu has %llu entries, above the %zu limit", what, pos_,
                          static_cast<unsigned long long>(entries), limits_.max_container_entries);
            return fail(buf);
        }
        return true;
    }
    bool readArray(uint64_t entries, MsgpackValue& out, size_t depth);
    bool readMap(uint64_t entries, MsgpackValue& out, size_t depth);

    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
    const MsgpackLimits& limits_;
    std::string& error_;
};

bool MsgpackReader::readArray(uint64_t entries, MsgpackValue& out, size_t depth) {
    if (!checkEntries(entries, "array")) {
        return false;
    }
    out = MsgpackValue::array();
    out.reserve(std::min<size_t>(static_cast<size_t>(entries), size_ - pos_));
    for (uint64_t i = 0; i < entries; ++i) {
        MsgpackValue item;
        if (!readValue(item, depth + 1)) {
            return false;
        }
        out.push(std::move(item));
    }
    return true;
}

bool MsgpackReader::readMap(uint64_t entries, MsgpackValue& out, size_t depth) {
    if (!checkEntries(entries, "map")) {
        return false;
    }
    out = MsgpackValue::map();
    out.reserve(std::min<size_t>(static_cast<size_t>(entries), size_ - pos_));
    for (uint64_t i = 0; i < entries; ++i) {
        const size_t key_offset = pos_;
        MsgpackValue key;
        if (!readValue(key, depth + 1)) {
            return false;
        }
        if (!key.isStr()) {
            char buf[128];
            std::snprintf(buf, sizeof(buf), "map key at byte %zu is %s, not str", key_offset,
                          msgpackTypeName(key.type()));
            return fail(buf);
        }
        MsgpackValue value;
        if (!readValue(value, depth + 1)) {
            return false;
        }
        out.append(key.asString(), std::move(value));
    }
    // Repeated keys: a sorted copy of the keys finds them in O(n log n) for large maps.
    std::vector<std::string_view> keys;
    keys.reserve(out.size());
    for (size_t i = 0; i < out.size(); ++i) {
        keys.emplace_back(out.keyAt(i));
    }
    std::sort(keys.begin(), keys.end());
    const auto repeated = std::adjacent_find(keys.begin(), keys.end());
    if (repeated != keys.end()) {
        return fail("map repeats the key \"" + std::string(*repeated) + "\"");
    }
    return true;
}

bool MsgpackReader::readValue(MsgpackValue& out, size_t depth) {
    if (depth > limits_.max_depth) {
        char buf[96];
        std::snprintf(buf, sizeof(buf), "nesting deeper than %zu levels at byte %zu", limits_.max_depth, pos_);
        return fail(buf);
    }
    if (!need(1, "a value")) {
        return false;
    }
    const size_t start = pos_;
    const uint8_t tag = data_[pos_++];
    uint64_t length = 0;
    if (tag <= 0x7f) {
        out = MsgpackValue::unsignedInteger(tag);
        return true;
    }
    if (tag >= 0xe0) {
        out = MsgpackValue::integer(static_cast<int8_t>(tag));
        return true;
    }
    if ((tag & 0xf0) == 0x80) {
        return readMap(tag & 0x0f, out, depth);
    }
    if ((tag & 0xf0) == 0x90) {
        return readArray(tag & 0x0f, out, depth);
    }
    if ((tag & 0xe0) == 0xa0) {
        return readStr(tag & 0x1f, out);
    }
    switch (tag) {
        case 0xc0: out = MsgpackValue::nil(); return true;
        case 0xc2: out = MsgpackValue::boolean(false); return true;
        case 0xc3: out = MsgpackValue::boolean(true); return true;
        case 0xc4:
        case 0xc5:
        case 0xc6: {
            const int width = tag == 0xc4 ? 1 : (tag == 0xc5 ? 2 : 4);
            std::string bytes;
            if (!readLength(width, "bin length", length) || !readBytes(length, "bin", bytes)) {
                return false;
            }
            out = MsgpackValue::bin(std::move(bytes));
            return true;
        }
        case 0xc7:
        case 0xc8:
        case 0xc9: {
            const int width = tag == 0xc7 ? 1 : (tag == 0xc8 ? 2 : 4);
            return readLength(width, "ext length", length) && readExt(length, out);
        }
        case 0xca: {
            if (!need(4, "float32")) {
                return false;
            }
            const auto bits = static_cast<uint32_t>(readBigEndian(4));
            float value = 0.0f;
            std::memcpy(&value, &bits, sizeof(value));
            out = MsgpackValue::float64(static_cast<double>(value));
            return true;
        }
        case 0xcb: {
            if (!need(8, "float64")) {
                return false;
            }
            const uint64_t bits = readBigEndian(8);
            double value = 0.0;
            std::memcpy(&value, &bits, sizeof(value));
            out = MsgpackValue::float64(value);
            return true;
        }
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf: {
            const int width = 1 << (tag - 0xcc);
            if (!need(static_cast<size_t>(width), "uint")) {
                return false;
            }
            out = MsgpackValue::unsignedInteger(readBigEndian(width));
            return true;
        }
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3: {
            const int width = 1 << (tag - 0xd0);
            if (!need(static_cast<size_t>(width), "int")) {
                return false;
            }
            uint64_t bits = readBigEndian(width);
            if (width < 8 && (bits >> (width * 8 - 1)) & 1) {
                bits |= ~0ULL << (width * 8);  // sign-extend
            }
            out = MsgpackValue::integer(static_cast<int64_t>(bits));
            return true;
        }
        case 0xd4: return readExt(1, out);
        case 0xd5: return readExt(2, out);
        case 0xd6: return readExt(4, out);
        case 0xd7: return readExt(8, out);
        case 0xd8: return readExt(16, out);
        case 0xd9:
        case 0xda:
        case 0xdb: {
            const int width = tag == 0xd9 ? 1 : (tag == 0xda ? 2 : 4);
            return readLength(width, "str length", length) && readStr(length, out);
        }
        case 0xdc:
        case 0xdd:
            return readLength(tag == 0xdc ? 2 : 4, "array length", length) && readArray(length, out, depth);
        case 0xde:
        case 0xdf:
            return readLength(tag == 0xde ? 2 : 4, "map length", length) && readMap(length, out, depth);
        default: {
            char buf[96];
            std::snprintf(buf, sizeof(buf), "byte 0x%02x at offset %zu is not a msgpack type", tag, start);
            return fail(buf);
        }
    }
}

}  // namespace

bool decodeMsgpack(ByteView bytes, MsgpackValue& out, std::string& error, const MsgpackLimits& limits) {
    MsgpackReader reader(bytes, limits, error);
    MsgpackValue value;
    if (!reader.readValue(value, 0)) {
        return false;
    }
    if (reader.offset() != bytes.size) {
        char buf[128];
        std::snprintf(buf, sizeof(buf), "%zu bytes follow the msgpack value (which ends at byte %zu)",
                      bytes.size - reader.offset(), reader.offset());
        error = buf;
        return false;
    }
    out = std::move(value);
    return true;
}

}  // namespace protocol
}  // namespace mbridge
