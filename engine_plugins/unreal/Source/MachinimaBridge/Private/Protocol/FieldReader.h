// Typed reads of header map fields with errors that name `where.field` (internal to Protocol/).
//
// No exceptions: the first failure is recorded in a ParseContext shared by every reader of one
// message ("sticky" error); later reads return their fallback values and record nothing, so
// parse code reads all fields in order and checks the context once.  The order of reads is the
// order of checks of bridge/protocol/messages.py.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "Protocol/HeaderCodec.h"
#include "Protocol/Msgpack.h"
#include "Protocol/ProtocolErrors.h"

namespace mbridge {
namespace protocol {

struct ParseContext {
    std::string kind;
    bool failed = false;
    ProtocolError error;
    std::optional<uint64_t> stream;  // set once known, reported with plane errors
    std::optional<uint64_t> index;

    void fail(ErrorCode code, std::string message);
    void adopt(const ProtocolError& other);  // an error from a helper (plane descriptors)
};

enum class Need { Required, Optional };

class FieldReader {
public:
    // A value that is not a map records BAD_FIELD "<where> must be a map".
    FieldReader(ParseContext& context, const MsgpackValue& value, std::string where);

    ParseContext& context() { return context_; }
    const std::string& where() const { return where_; }
    const MsgpackValue& value() const { return value_; }

    // The raw field; nullptr when absent (recording "is missing" if required) or after a failure.
    const MsgpackValue* field(const char* name, Need need);

    int64_t i64(const char* name, Need need = Need::Required, int64_t fallback = 0,
                std::optional<int64_t> lo = std::nullopt, std::optional<int64_t> hi = std::nullopt);
    std::optional<int64_t> optI64(const char* name);
    uint64_t u64(const char* name, Need need = Need::Required, uint64_t fallback = 0, uint64_t lo = 0,
                 std::optional<uint64_t> hi = std::nullopt);
    double f64(const char* name, Need need = Need::Required, double fallback = 0.0);
    std::optional<double> optF64(const char* name);
    std::string str(const char* name, Need need = Need::Required, const std::string& fallback = std::string());
    std::optional<std::string> optStr(const char* name);
    bool boolean(const char* name, Need need = Need::Required, bool fallback = false);
    // An array (LIMIT_EXCEEDED above max_entries) or a map; nullptr when absent or failed.
    const MsgpackValue* list(const char* name, Need need, size_t max_entries);
    const MsgpackValue* mapField(const char* name, Need need);
    // Exactly `count` numbers (ints or floats) converted to double.
    template <size_t N>
    void floats(const char* name, std::array<double, N>& out);
    // An array of str, each at most kMaxStringChars code points.
    std::vector<std::string> strings(const char* name, Need need);

private:
    void typeError(const char* name, const char* expected, const MsgpackValue& got);
    void rangeError(const char* name, const MsgpackValue& got, const std::string& lo, const std::string& hi);

    ParseContext& context_;
    const MsgpackValue& value_;
    std::string where_;
};

template <size_t N>
void FieldReader::floats(const char* name, std::array<double, N>& out) {
    const MsgpackValue* items = list(name, Need::Required, kMaxContainerEntries);
    if (items == nullptr) {
        return;
    }
    bool ok = items->size() == N;
    for (size_t i = 0; ok && i < N; ++i) {
        ok = items->at(i).toDouble(out[i]);
    }
    if (!ok) {
        context_.fail(ErrorCode::BadField,
                      where_ + "." + name + " must be an array of " + std::to_string(N) + " numbers");
    }
}

}  // namespace protocol
}  // namespace mbridge
