// Take start / stop CONTROLs and their acks (see Protocol/TakeControl.h).
#include "Protocol/TakeControl.h"

#include <cstdio>
#include <utility>
#include <variant>

namespace mbridge {
namespace protocol {

namespace {

bool isAsciiLetterOrDigit(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

std::string describeByte(unsigned char c) {
    char buf[16];
    if (c >= 0x20 && c < 0x7f) {
        std::snprintf(buf, sizeof(buf), "'%c'", static_cast<char>(c));
    } else {
        std::snprintf(buf, sizeof(buf), "byte 0x%02X", static_cast<unsigned>(c));
    }
    return buf;
}

std::string quoted(const std::string& name) {
    std::string out = "\"";
    for (char ch : name) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7f) {
            out += ch;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(c));
            out += buf;
        }
    }
    return out + "\"";
}

const char* const kRule =
    " (a take name is 1..128 characters of ASCII letters, digits, '.', '_' or '-', starting with a letter or digit)";

std::string ackLabel(uint64_t request_id) { return "take CONTROL_ACK " + std::to_string(request_id) + ": applied."; }

// An optional string of `applied`: absent or nil leaves `out` empty; another type is an error.
bool optionalString(const MsgpackValue& applied, const char* key, uint64_t request_id, std::optional<std::string>& out,
                    std::string& error) {
    const MsgpackValue* value = applied.find(key);
    if (value == nullptr || value->isNil()) {
        return true;
    }
    if (!value->isStr()) {
        error = ackLabel(request_id) + key + " must be a string, got " + msgpackTypeName(value->type());
        return false;
    }
    out = value->asString();
    return true;
}

}  // namespace

bool checkTakeName(const std::string& name, std::string& problem) {
    if (name.empty()) {
        problem = std::string("take name is empty") + kRule;
        return false;
    }
    if (name.size() > kMaxTakeNameLength) {
        problem = "take name is " + std::to_string(name.size()) + " bytes long" + kRule;
        return false;
    }
    const auto first = static_cast<unsigned char>(name[0]);
    if (!isAsciiLetterOrDigit(first)) {
        problem = "take name " + quoted(name) + " starts with " + describeByte(first) + kRule;
        return false;
    }
    for (size_t i = 1; i < name.size(); ++i) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (!isAsciiLetterOrDigit(c) && c != '.' && c != '_' && c != '-') {
            problem = "take name " + quoted(name) + " has " + describeByte(c) + " at position " + std::to_string(i) + kRule;
            return false;
        }
    }
    return true;
}

MsgpackValue takeStartParams(const std::string& name) {
    MsgpackValue params = MsgpackValue::map();
    params.append("record", MsgpackValue::boolean(true));
    if (!name.empty()) {
        params.append("name", MsgpackValue::str(name));
    }
    return params;
}

MsgpackValue takeStopParams() {
    MsgpackValue params = MsgpackValue::map();
    params.append("record", MsgpackValue::boolean(false));
    return params;
}

bool readTakeAck(const ControlAck& ack, bool record, TakeAck& out, std::string& error) {
    TakeAck take;
    take.request_id = ack.request_id;
    take.ok = ack.ok;
    take.record = record;
    take.code = ack.code;
    take.reason = ack.reason.value_or(std::string());
    if (!ack.ok) {
        out = std::move(take);
        return true;
    }
    const MsgpackValue& applied = ack.applied;
    const MsgpackValue* applied_record = applied.isMap() ? applied.find("record") : nullptr;
    if (applied_record == nullptr || !applied_record->isBool()) {
        error = ackLabel(ack.request_id) + "record must be a bool, got " +
                (applied_record ? msgpackTypeName(applied_record->type()) : "nothing");
        return false;
    }
    if (applied_record->asBool() != record) {
        error = ackLabel(ack.request_id) + "record is " + (applied_record->asBool() ? "true" : "false") +
                " but the request " + (record ? "started" : "stopped") + " a take";
        return false;
    }
    std::optional<std::string> name;
    std::optional<std::string> path;
    if (!optionalString(applied, "take", ack.request_id, name, error) ||
        !optionalString(applied, "path", ack.request_id, path, error) ||
        !optionalString(applied, "timecode", ack.request_id, take.timecode, error) ||
        !optionalString(applied, "status", ack.request_id, take.status, error) ||
        !optionalString(applied, "failure", ack.request_id, take.failure, error)) {
        return false;
    }
    if (!name) {
        error = ackLabel(ack.request_id) + "take is missing";
        return false;
    }
    take.take = std::move(*name);
    take.path = path.value_or(std::string());
    if (const MsgpackValue* duration = applied.find("duration_s"); duration != nullptr && !duration->isNil()) {
        double seconds = 0.0;
        if (!duration->toDouble(seconds)) {
            error = ackLabel(ack.request_id) + "duration_s must be a number, got " + msgpackTypeName(duration->type());
            return false;
        }
        take.duration_s = seconds;
    }
    out = std::move(take);
    return true;
}

bool TakeState::operator==(const TakeState& other) const {
    return recording == other.recording && take == other.take && timecode == other.timecode && status == other.status;
}

std::string TakeState::describe() const {
    if (take.empty()) {
        return recording ? "recording" : "no take recorded yet";
    }
    if (recording) {
        return "recording take '" + take + "'" + (timecode ? " since " + *timecode : std::string());
    }
    return "take '" + take + "' " + status.value_or("stopped");
}

namespace {

std::string takeStateLabel(const char* key) { return std::string(kTakeStateKey) + "." + key; }

bool optionalStateString(const MsgpackValue& map, const char* key, std::optional<std::string>& out, std::string& error) {
    const MsgpackValue* value = map.find(key);
    if (value == nullptr || value->isNil()) {
        out.reset();
        return true;
    }
    if (!value->isStr()) {
        error = takeStateLabel(key) + " must be a string or nil, got " + msgpackTypeName(value->type());
        return false;
    }
    out = value->asString();
    return true;
}

}  // namespace

bool readTakeState(const MsgpackValue& value, TakeState& out, std::string& error) {
    if (!value.isMap()) {
        error = std::string(kTakeStateKey) + " must be a map, got " + msgpackTypeName(value.type());
        return false;
    }
    TakeState state;
    const MsgpackValue* recording = value.find("recording");
    if (recording == nullptr) {
        error = takeStateLabel("recording") + " is missing";
        return false;
    }
    if (!recording->isBool()) {
        error = takeStateLabel("recording") + " must be a bool, got " + msgpackTypeName(recording->type());
        return false;
    }
    state.recording = recording->asBool();
    const MsgpackValue* take = value.find("take");
    if (take == nullptr) {
        error = takeStateLabel("take") + " is missing";
        return false;
    }
    if (!take->isStr()) {
        error = takeStateLabel("take") + " must be a string, got " + msgpackTypeName(take->type());
        return false;
    }
    if (take->asString().empty()) {
        error = takeStateLabel("take") + " is empty";
        return false;
    }
    state.take = take->asString();
    if (!optionalStateString(value, "timecode", state.timecode, error) ||
        !optionalStateString(value, "status", state.status, error)) {
        return false;
    }
    out = std::move(state);
    return true;
}

TakeStateNews takeStateFrom(const Message& message, TakeState& out, std::string& error) {
    if (const auto* event = std::get_if<SessionEvent>(&message)) {
        if (event->event != "snapshot") {
            return TakeStateNews::None;
        }
        const MsgpackValue* value = event->state.isMap() ? event->state.find(kTakeStateKey) : nullptr;
        if (value == nullptr) {
            out = TakeState();
            return TakeStateNews::Read;
        }
        return readTakeState(*value, out, error) ? TakeStateNews::Read : TakeStateNews::Malformed;
    }
    const auto* change = std::get_if<StateChange>(&message);
    if (change == nullptr || change->key != kTakeStateKey || change->by.value_or(std::string()) != kServerAuthor) {
        return TakeStateNews::None;
    }
    if (change->op == "delete") {
        out = TakeState();
        return TakeStateNews::Read;
    }
    return readTakeState(change->value, out, error) ? TakeStateNews::Read : TakeStateNews::Malformed;
}

TakeAck failedTakeAck(uint64_t request_id, bool record, std::string reason) {
    TakeAck take;
    take.request_id = request_id;
    take.record = record;
    take.reason = std::move(reason);
    return take;
}

std::string TakeAck::describe() const {
    if (!ok) {
        std::string out = std::string("take ") + (record ? "start" : "stop") + " refused";
        if (code) {
            const char* name = errorCodeName(*code);
            out += " (" + (name ? std::string(name) : "code " + std::to_string(*code)) + ")";
        }
        return out + ": " + reason;
    }
    if (record) {
        return "take '" + take + "' recording to " + path + " from " + timecode.value_or("?");
    }
    std::string out = "take '" + take + "' " + status.value_or("stopped");
    if (duration_s) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), " (%.1f s)", *duration_s);
        out += buf;
    }
    if (failure) {
        out += ": " + *failure;
    }
    return out;
}

}  // namespace protocol
}  // namespace mbridge
