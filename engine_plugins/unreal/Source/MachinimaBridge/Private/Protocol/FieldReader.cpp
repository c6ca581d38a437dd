// Typed field reads with errors naming the field (see Protocol/FieldReader.h).
#include "Protocol/FieldReader.h"

#include <utility>

namespace mbridge {
namespace protocol {

void ParseContext::fail(ErrorCode code, std::string message) {
    if (failed) {
        return;
    }
    failed = true;
    error = ProtocolError{};
    error.code = code;
    error.message = std::move(message);
    error.kind = kind;
    error.stream = stream;
    error.index = index;
}

void ParseContext::adopt(const ProtocolError& other) {
    if (failed) {
        return;
    }
    fail(other.code, other.message);
}

FieldReader::FieldReader(ParseContext& context, const MsgpackValue& value, std::string where)
    : context_(context), value_(value), where_(std::move(where)) {
    if (!value_.isMap()) {
        context_.fail(ErrorCode::BadField, where_ + " must be a map, got " + msgpackTypeName(value_.type()));
    }
}

const MsgpackValue* FieldReader::field(const char* name, Need need) {
    if (context_.failed) {
        return nullptr;
    }
    const MsgpackValue* item = value_.find(name);
    if (item == nullptr && need == Need::Required) {
        context_.fail(ErrorCode::BadField, where_ + "." + name + " is missing");
    }
    return item;
}

void FieldReader::typeError(const char* name, const char* expected, const MsgpackValue& got) {
    context_.fail(ErrorCode::BadField,
                  where_ + "." + name + " must be " + expected + ", got " + msgpackTypeName(got.type()));
}

void FieldReader::rangeError(const char* name, const MsgpackValue& got, const std::string& lo, const std::string& hi) {
    context_.fail(ErrorCode::BadField,
                  where_ + "." + name + " = " + got.toDebugString() + " is outside " + lo + ".." + hi);
}

int64_t FieldReader::i64(const char* name, Need need, int64_t fallback, std::optional<int64_t> lo,
                         std::optional<int64_t> hi) {
    const MsgpackValue* item = field(name, need);
    if (item == nullptr) {
        return fallback;
    }
    if (!item->isInt()) {
        typeError(name, "an integer", *item);
        return fallback;
    }
    const std::string lo_text = lo ? std::to_string(*lo) : std::string();
    const std::string hi_text = hi ? std::to_string(*hi) : std::string();
    int64_t value = 0;
    if (!item->toInt64(value)) {
        if (hi) {
            rangeError(name, *item, lo_text, hi_text);
        } else {
            context_.fail(ErrorCode::BadField,
                          where_ + "." + name + " = " + item->toDebugString() + " is above 2^63-1");
        }
        return fallback;
    }
    if ((lo && value < *lo) || (hi && value > *hi)) {
        rangeError(name, *item, lo_text, hi_text);
        return fallback;
    }
    return value;
}

std::optional<int64_t> FieldReader::optI64(const char* name) {
    if (context_.failed || value_.find(name) == nullptr) {
        return std::nullopt;
    }
    const int64_t value = i64(name);
    if (context_.failed) {
        return std::nullopt;
    }
    return value;
}

uint64_t FieldReader::u64(const char* name, Need need, uint64_t fallback, uint64_t lo, std::optional<uint64_t> hi) {
    const MsgpackValue* item = field(name, need);
    if (item == nullptr) {
        return fallback;
    }
    if (!item->isInt()) {
        typeError(name, "an integer", *item);
        return fallback;
    }
    uint64_t value = 0;
    if (!item->toUint64(value) || value < lo || (hi && value > *hi)) {
        rangeError(name, *item, std::to_string(lo), hi ? std::to_string(*hi) : std::string());
        return fallback;
    }
    return value;
}

double FieldReader::f64(const char* name, Need need, double fallback) {
    const MsgpackValue* item = field(name, need);
    if (item == nullptr) {
        return fallback;
    }
    double value = 0.0;
    if (!item->toDouble(value)) {
        typeError(name, "a number", *item);
        return fallback;
    }
    return value;
}

std::optional<double> FieldReader::optF64(const char* name) {
    if (context_.failed || value_.find(name) == nullptr) {
        return std::nullopt;
    }
    const double value = f64(name);
    if (context_.failed) {
        return std::nullopt;
    }
    return value;
}

std::string FieldReader::str(const char* name, Need need, const std::string& fallback) {
    const MsgpackValue* item = field(name, need);
    if (item == nullptr) {
        return fallback;
    }
    if (!item->isStr()) {
        typeError(name, "a string", *item);
        return fallback;
    }
    if (utf8CodePoints(item->asString()) > kMaxStringChars) {
        context_.fail(ErrorCode::BadField,
                      where_ + "." + name + " is longer than " + std::to_string(kMaxStringChars) + " characters");
        return fallback;
    }
    return item->asString();
}

std::optional<std::string> FieldReader::optStr(const char* name) {
    if (context_.failed || value_.find(name) == nullptr) {
        return std::nullopt;
    }
    std::string value = str(name);
    if (context_.failed) {
        return std::nullopt;
    }
    return value;
}

bool FieldReader::boolean(const char* name, Need need, bool fallback) {
    const MsgpackValue* item = field(name, need);
    if (item == nullptr) {
        return fallback;
    }
    if (!item->isBool()) {
        typeError(name, "a boolean", *item);
        return fallback;
    }
    return item->asBool();
}

const MsgpackValue* FieldReader::list(const char* name, Need need, size_t max_entries) {
    const MsgpackValue* item = field(name, need);
    if (item == nullptr) {
        return nullptr;
    }
    if (!item->isArray()) {
        typeError(name, "an array", *item);
        return nullptr;
    }
    if (item->size() > max_entries) {
        context_.fail(ErrorCode::LimitExceeded, where_ + "." + name + " has " + std::to_string(item->size()) +
                                                    " entries, above " + std::to_string(max_entries));
        return nullptr;
    }
    return item;
}

const MsgpackValue* FieldReader::mapField(const char* name, Need need) {
    const MsgpackValue* item = field(name, need);
    if (item == nullptr) {
        return nullptr;
    }
    if (!item->isMap()) {
        typeError(name, "a map", *item);
        return nullptr;
    }
    return item;
}

std::vector<std::string> FieldReader::strings(const char* name, Need need) {
    std::vector<std::string> out;
    const MsgpackValue* items = list(name, need, kMaxContainerEntries);
    if (items == nullptr) {
        return out;
    }
    out.reserve(items->size());
    for (size_t i = 0; i < items->size(); ++i) {
        const MsgpackValue& item = items->at(i);
        if (!item.isStr() || utf8CodePoints(item.asString()) > kMaxStringChars) {
            context_.fail(ErrorCode::BadField, where_ + "." + name + " must be an array of strings of at most " +
                                                   std::to_string(kMaxStringChars) + " characters");
            out.clear();
            return out;
        }
        out.push_back(item.asString());
    }
    return out;
}

}  // namespace protocol
}  // namespace mbridge
