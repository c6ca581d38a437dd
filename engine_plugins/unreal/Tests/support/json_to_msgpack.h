// Test support: reads the golden vectors' JSON into the plugin's MsgpackValue tree.
//
// Object key order is kept (the vectors list keys in wire order).  A number written with '.',
// 'e' or 'E' becomes a float64, any other number an integer (tests/vectors/README.md,
// "Reading the JSON header"), so the tree compares type-strictly with a decoded header.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

#include "Protocol/Msgpack.h"

namespace mbridge {
namespace testing {

using protocol::MsgpackValue;

class JsonToMsgpack {
public:
    explicit JsonToMsgpack(const std::string& text) : text_(text) {}

    // Parses the whole text; false with a message naming the byte offset on any error.
    bool parse(MsgpackValue& out, std::string& error) {
        skipSpace();
        if (!value(out, 0)) {
            error = error_;
            return false;
        }
        skipSpace();
        if (pos_ != text_.size()) {
            error = "trailing characters at offset " + std::to_string(pos_);
            return false;
        }
        return true;
    }

private:
    bool fail(const std::string& message) {
        error_ = message + " at offset " + std::to_string(pos_);
        return false;
    }
    void skipSpace() {
        while (pos_ < text_.size() &&
               (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\r' || text_[pos_] == '\t')) {
            ++pos_;
        }
    }
    bool literal(const char* word) {
        const std::string w(word);
        if (text_.compare(pos_, w.size(), w) != 0) {
            return fail("expected " + w);
        }
        pos_ += w.size();
        return true;
    }
    bool value(MsgpackValue& out, int depth) {
        if (depth > 64) {
            return fail("nesting too deep");
        }
        if (pos_ >= text_.size()) {
            return fail("unexpected end");
        }
        const char c = text_[pos_];
        if (c == '{') {
            return object(out, depth);
        }
        if (c == '[') {
            return array(out, depth);
        }
        if (c == '"') {
            std::string s;
            if (!string(s)) {
                return false;
            }
            out = MsgpackValue::str(std::move(s));
            return true;
        }
        if (c == 't') {
            out = MsgpackValue::boolean(true);
            return literal("true");
        }
        if (c == 'f') {
            out = MsgpackValue::boolean(false);
            return literal("false");
        }
        if (c == 'n') {
            out = MsgpackValue::nil();
            return literal("null");
        }
        return number(out);
    }
    bool object(MsgpackValue& out, int depth) {
        out = MsgpackValue::map();
        ++pos_;
        skipSpace();
        if (pos_ < text_.size() && text_[pos_] == '}') {
            ++pos_;
            return true;
        }
        while (true) {
            skipSpace();
            std::string key;
            if (pos_ >= text_.size() || text_[pos_] != '"' || !string(key)) {
                return fail("expected an object key");
            }
            skipSpace();
            if (pos_ >= text_.size() || text_[pos_] != ':') {
                return fail("expected ':'");
            }
            ++pos_;
            skipSpace();
            MsgpackValue item;
            if (!value(item, depth + 1)) {
                return false;
            }
            out.append(std::move(key), std::move(item));
            skipSpace();
            if (pos_ < text_.size() && text_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < text_.size() && text_[pos_] == '}') {
                ++pos_;
                return true;
            }
            return fail("expected ',' or '}'");
        }
    }
    bool array(MsgpackValue& out, int depth) {
        out = MsgpackValue::array();
        ++pos_;
        skipSpace();
        if (pos_ < text_.size() && text_[pos_] == ']') {
            ++pos_;
            return true;
        }
        while (true) {
            skipSpace();
            MsgpackValue item;
            if (!value(item, depth + 1)) {
                return false;
            }
            out.push(std::move(item));
            skipSpace();
            if (pos_ < text_.size() && text_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < text_.size() && text_[pos_] == ']') {
                ++pos_;
                return true;
            }
            return fail("expected ',' or ']'");
        }
    }
    static void appendUtf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else if (cp < 0x10000) {
            out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else {
            out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        }
    }
    bool hex4(uint32_t& out) {
        if (text_.size() - pos_ < 4) {
            return fail("short \\u escape");
        }
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const char h = text_[pos_++];
            out <<= 4;
            if (h >= '0' && h <= '9') {
                out |= static_cast<uint32_t>(h - '0');
            } else if (h >= 'a' && h <= 'f') {
                out |= static_cast<uint32_t>(h - 'a' + 10);
            } else if (h >= 'A' && h <= 'F') {
                out |= static_cast<uint32_t>(h - 'A' + 10);
            } else {
                return fail("bad hex digit in \\u escape");
            }
        }
        return true;
    }
    bool string(std::string& out) {
        ++pos_;  // opening quote
        while (pos_ < text_.size()) {
            const char c = text_[pos_++];
            if (c == '"') {
                return true;
            }
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (pos_ >= text_.size()) {
                break;
            }
            const char e = text_[pos_++];
            switch (e) {
                case '"': out.push_back('"'); break;
                case '\\': out.push_back('\\'); break;
                case '/': out.push_back('/'); break;
                case 'b': out.push_back('\b'); break;
                case 'f': out.push_back('\f'); break;
                case 'n': out.push_back('\n'); break;
                case 'r': out.push_back('\r'); break;
                case 't': out.push_back('\t'); break;
                case 'u': {
                    uint32_t cp = 0;
                    if (!hex4(cp)) {
                        return false;
                    }
                    if (cp >= 0xd800 && cp <= 0xdbff) {  // surrogate pair
                        uint32_t low = 0;
                        if (text_.compare(pos_, 2, "\\u") != 0) {
                            return fail("lone high surrogate");
                        }
                        pos_ += 2;
                        if (!hex4(low) || low < 0xdc00 || low > 0xdfff) {
                            return fail("bad low surrogate");
                        }
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                    }
                    appendUtf8(out, cp);
                    break;
                }
                default: return fail("bad escape");
            }
        }
        return fail("unterminated string");
    }
    bool number(MsgpackValue& out) {
        const size_t start = pos_;
        bool is_float = false;
        if (pos_ < text_.size() && text_[pos_] == '-') {
            ++pos_;
        }
        while (pos_ < text_.size()) {
            const char c = text_[pos_];
            if (c == '.' || c == 'e' || c == 'E' || c == '+') {
                is_float = true;
            } else if (!(c >= '0' && c <= '9') && c != '-') {
                break;
            }
            ++pos_;
        }
        const std::string digits = text_.substr(start, pos_ - start);
        if (digits.empty() || digits == "-") {
            return fail("expected a value");
        }
        char* end = nullptr;
        if (is_float) {
            out = MsgpackValue::float64(std::strtod(digits.c_str(), &end));
        } else if (digits[0] == '-') {
            out = MsgpackValue::integer(std::strtoll(digits.c_str(), &end, 10));
        } else {
            out = MsgpackValue::unsignedInteger(std::strtoull(digits.c_str(), &end, 10));
        }
        if (end == nullptr || *end != '\0') {
            return fail("bad number '" + digits + "'");
        }
        return true;
    }

    const std::string& text_;
    size_t pos_ = 0;
    std::string error_;
};

}  // namespace testing
}  // namespace mbridge
