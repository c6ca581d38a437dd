// Minimal msgpack for protocol headers: a value tree, a canonical writer and a checked reader.
//
// Plain C++17, no Unreal types, no exceptions, no RTTI: the same files compile inside the
// engine and in the g++ tests under engine_plugins/unreal/Tests.
//
// Canonical form (docs/protocol.md section 3.2): integers in the smallest form, floats always
// float64, strings as str in the smallest form, maps and arrays in the smallest form, map keys in
// the order the value holds them.  The reader accepts any valid encoding (wider integers,
// float32, str8 for short strings, map16 for small maps) and rejects what section 3.1 calls a
// malformed header: truncation, trailing bytes, non-str or repeated keys, invalid UTF-8,
// too many entries, too deep nesting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "Protocol/ByteView.h"

namespace mbridge {
namespace protocol {

enum class MsgpackType : uint8_t { Nil, Bool, Int, Float, Str, Bin, Array, Map, Ext };

// "nil", "bool", "int", "float", "str", "bin", "array", "map", "ext": used in error messages.
const char* msgpackTypeName(MsgpackType type);

// One decoded msgpack value.  Maps keep their entries in wire order and only have str keys
// (a header map with any other key is malformed), so a map is stored as parallel key/value
// vectors.  Integers hold the whole msgpack range -2^63..2^64-1.
class MsgpackValue {
public:
    MsgpackValue() = default;  // nil

    static MsgpackValue nil();
    static MsgpackValue boolean(bool value);
    static MsgpackValue integer(int64_t value);
    static MsgpackValue unsignedInteger(uint64_t value);
    static MsgpackValue float64(double value);
    static MsgpackValue str(std::string value);
    static MsgpackValue bin(std::string bytes);
    static MsgpackValue ext(int8_t ext_type, std::string bytes);
    static MsgpackValue array();
    static MsgpackValue map();

    MsgpackType type() const { return type_; }
    bool isNil() const { return type_ == MsgpackType::Nil; }
    bool isBool() const { return type_ == MsgpackType::Bool; }
    bool isInt() const { return type_ == MsgpackType::Int; }
    bool isFloat() const { return type_ == MsgpackType::Float; }
    bool isNumber() const { return isInt() || isFloat(); }  // never true for bool
    bool isStr() const { return type_ == MsgpackType::Str; }
    bool isArray() const { return type_ == MsgpackType::Array; }
    bool isMap() const { return type_ == MsgpackType::Map; }

    bool asBool() const { return bool_; }
    bool isNegativeInt() const { return isInt() && negative_; }
    // Integer access: false when the value does not fit (or is not an integer).
    bool toInt64(int64_t& out) const;
    bool toUint64(uint64_t& out) const;
    // Float, or an integer converted to a double (the protocol's "float field" rule).
    bool toDouble(double& out) const;
    double asFloat() const { return float_; }
    // Payload of str (UTF-8), bin and ext.
    const std::string& asString() const { return bytes_; }
    int8_t extType() const { return ext_type_; }

    // Arrays and maps.
    size_t size() const { return items_.size(); }
    const MsgpackValue& at(size_t index) const { return items_[index]; }
    MsgpackValue& at(size_t index) { return items_[index]; }
    const std::string& keyAt(size_t index) const { return keys_[index]; }
    const MsgpackValue* find(const std::string& key) const;  // maps only; nullptr when absent
    bool contains(const std::string& key) const { return find(key) != nullptr; }
    void push(MsgpackValue item);                     // arrays
    void append(std::string key, MsgpackValue value);  // maps; the caller keeps keys unique
    void reserve(size_t entries);

    // Deep, type-strict and order-sensitive: 1 != 1.0, {"a":1,"b":2} != {"b":2,"a":1}.
    bool operator==(const MsgpackValue& other) const;
    bool operator!=(const MsgpackValue& other) const { return !(*this == other); }

    // JSON-like text for logs and test failures (bin/ext as hex).
    std::string toDebugString() const;

private:
    MsgpackType type_ = MsgpackType::Nil;
    bool bool_ = false;
    bool negative_ = false;  // Int: the value is static_cast<int64_t>(uint_) and below zero
    int8_t ext_type_ = 0;
    uint64_t uint_ = 0;
    double float_ = 0.0;
    std::string bytes_;
    std::vector<std::string> keys_;    // Map: keys, parallel to items_
    std::vector<MsgpackValue> items_;  // Array items or Map values
};

// Appends canonical msgpack to a byte vector.
class MsgpackWriter {
public:
    explicit MsgpackWriter(std::vector<uint8_t>& out) : out_(out) {}

    void writeNil();
    void writeBool(bool value);
    void writeInt(int64_t value);    // smallest form; non-negative values use the unsigned family
    void writeUint(uint64_t value);  // smallest form
    void writeFloat64(double value);
    void writeStr(const std::string& value);
    void writeStr(const char* data, size_t size);
    void writeBin(const uint8_t* data, size_t size);
    void writeExt(int8_t ext_type, const uint8_t* data, size_t size);
    void writeArrayHeader(size_t entries);
    void writeMapHeader(size_t entries);
    void writeValue(const MsgpackValue& value);

private:
    void byte(uint8_t value) { out_.push_back(value); }
    void bigEndian(uint64_t value, int bytes);
    std::vector<uint8_t>& out_;
};

std::vector<uint8_t> encodeMsgpack(const MsgpackValue& value);

struct MsgpackLimits {
    size_t max_depth = 512;                // nesting of arrays and maps
    size_t max_container_entries = 4096;   // docs/protocol.md section 8
    size_t max_str_bytes = 65536;
};

// Decodes exactly one value filling all of `bytes`.  On failure returns false and names the
// cause and byte offset in `error` (the protocol maps every such failure to MALFORMED_HEADER).
bool decodeMsgpack(ByteView bytes, MsgpackValue& out, std::string& error, const MsgpackLimits& limits = {});

// The shortest text that reads back as the same double ("29.97", "24.0", "1e+300").
std::string formatDouble(double value);

// Strict UTF-8 as Python decodes it: no overlong forms, no surrogates, nothing above U+10FFFF.
bool isValidUtf8(const char* data, size_t size);
// Unicode code points in valid UTF-8 (the protocol's string length limits count these).
size_t utf8CodePoints(const std::string& text);

}  // namespace protocol
}  // namespace mbridge
