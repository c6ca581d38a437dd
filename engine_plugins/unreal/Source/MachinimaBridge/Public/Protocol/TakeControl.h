// Starting and stopping takes (docs/takes.md) from an engine: a CONTROL to the pseudo-stage "take"
// of any declared stream, {"record": true, "name": "scene-4"} (name optional) or {"record": false}.
// The server answers with a CONTROL_ACK whose `applied` map says what happened (read into a
// TakeAck), or a refusal (ok false, BAD_PARAM_VALUE: a take is already recording, none is, the
// name is taken).  Take names are checked here with the server's rule, so a bad one fails before
// it is sent.
//
// The server's take state (docs/protocol.md 6.13, "Keys the server sets itself"): whenever a take
// starts or stops, whoever started it (an engine, OSC, the server's command line), the server sets
// the shared-state key "bridge.take" in every session, by "server":
//   {"recording": true, "take": NAME, "timecode": SMPTE} / {"recording": false, "take": NAME, "status": STATUS};
// an engine that joins later finds it in its SESSION snapshot.  Only engines with the HELLO
// capability "session" receive either; TakeState reads them.
//
// Plain C++17, no exceptions (built as engine module code).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "Protocol/Messages.h"
#include "Protocol/Msgpack.h"

namespace mbridge {
namespace protocol {

constexpr const char* kTakeStage = "take";  // the CONTROL stage the server reads as "start or stop a take"
constexpr size_t kMaxTakeNameLength = 128;

// Whether `name` may name a take (it becomes a folder name on the server): 1..128 ASCII letters,
// digits, '.', '_' or '-', starting with a letter or digit.  False with the reason in `problem`.
bool checkTakeName(const std::string& name, std::string& problem);

// CONTROL params that start a take named `name` (empty: the server names it take-YYYYMMDD-HHMMSS).
// The caller checks the name first (checkTakeName).
MsgpackValue takeStartParams(const std::string& name);
MsgpackValue takeStopParams();

// The outcome of a take start or stop: its CONTROL_ACK, read.
struct TakeAck {
    uint64_t request_id = 0;
    bool ok = false;      // false: refused by the server (code set), or the request was lost / unreadable (no code)
    bool record = false;  // true: the answer to a start; false: to a stop
    std::string take;     // the take's name (the one asked for, or the one the server chose)
    std::string path;     // its folder on the server's machine
    std::optional<std::string> timecode;  // on start: the SMPTE timecode of the take's first instant
    std::optional<std::string> status;    // on stop: "stopping" (writers finishing), "complete", "failed", ...
    std::optional<double> duration_s;     // on stop, when the take was finished at once
    std::optional<std::string> failure;   // on stop of a take whose recording failed: why
    std::optional<int64_t> code;          // when refused: the error code (BAD_PARAM_VALUE)
    std::string reason;                   // when not ok: why

    // One line for logs: "take 'scene-4' recording to /takes/scene-4 from 10:00:00:00", "take stop refused (BAD_PARAM_VALUE): ..."
    std::string describe() const;
};

// Reads the CONTROL_ACK of a take start (`record` true) or stop (false) into `out`.  A refusal is
// read as it is (ok false, its code and reason).  False, with the cause naming the field in
// `error`, when an accepted ack's `applied` lacks "record" or "take", holds a value of the wrong
// type, or answers the other request.
bool readTakeAck(const ControlAck& ack, bool record, TakeAck& out, std::string& error);

// The outcome of a request whose answer could not be read or will never come (not ok, no code).
TakeAck failedTakeAck(uint64_t request_id, bool record, std::string reason);

constexpr const char* kTakeStateKey = "bridge.take";  // the shared-state key the server sets
constexpr const char* kServerAuthor = "server";       // STATE.by of the server's own changes
constexpr const char* kSessionCapability = "session";  // HELLO capability under which the server sends it

// The server's take state.  Default-constructed: no take recorded since the server started (what
// a snapshot without "bridge.take" says).
struct TakeState {
    bool recording = false;
    std::string take;                     // the take recording or last recorded; empty: none yet
    std::optional<std::string> timecode;  // while recording: SMPTE timecode of the take's first instant
    std::optional<std::string> status;    // after a stop: "stopping", "complete", "failed", ...

    bool operator==(const TakeState& other) const;
    bool operator!=(const TakeState& other) const { return !(*this == other); }
    // For logs: "recording take 'scene-4' since 10:00:00:00", "take 'scene-4' complete", "no take recorded yet".
    std::string describe() const;
};

// Reads the value of the STATE key "bridge.take".  False, with the cause naming the field in
// `error`, when it is not a map, lacks "recording" (bool) or "take" (non-empty string), or holds a
// "timecode" or "status" that is neither a string nor nil.  Other keys are ignored (newer servers).
bool readTakeState(const MsgpackValue& value, TakeState& out, std::string& error);

// What a server message says about the take state.
enum class TakeStateNews {
    None,       // nothing: another message, another key, a SESSION join/leave, or a change made by an
                // engine (engines SHOULD NOT set "bridge." keys; that is not the server's word)
    Read,       // `out` holds it: a SESSION snapshot (no key: no take yet), a STATE from the server
                // (a deletion reads as no take yet)
    Malformed,  // the value is malformed: `error` names the field
};
TakeStateNews takeStateFrom(const Message& message, TakeState& out, std::string& error);

}  // namespace protocol
}  // namespace mbridge
