// One engine session on one socket: HELLO -> WELCOME, frames, controls, liveness, BYE
// (docs/protocol.md section 7).  Synchronous and single-threaded; EngineLink runs one on a
// worker thread with reconnects, the test client drives one directly.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "Transport/ZmqInclude.h"

#include "Protocol/Messages.h"
#include "Protocol/TakeControl.h"
#include "Transport/BridgeSocket.h"

namespace mbridge {
namespace transport {

struct SessionConfig {
    std::string endpoint = "tcp://127.0.0.1:5555";
    std::string engine = "unknown engine";  // e.g. "Unreal Engine 5.4.2"
    std::string client = "machinima-bridge-unreal/0.1.0";
    std::string session = "default";
    std::vector<protocol::StreamDeclaration> streams;
    std::vector<std::string> capabilities;
    uint32_t heartbeat_ms = 1000;  // proposed in HELLO; WELCOME's value is the one used
    BridgeSocket::Options socket;
    // Watch for a lost connection (BridgeSocket::enableMonitor).  Whoever turns it on must read
    // connectionLost() regularly; EngineLink does, and always turns it on.
    bool monitor_connection = false;
};

class EngineSession {
public:
    EngineSession(zmq::context_t& context, SessionConfig config);
    ~EngineSession();

    // Opens a new socket (closing any old one without BYE) and sends HELLO.  The WELCOME (or
    // ERROR) arrives through receive().
    bool begin(std::string& error);
    // begin() and wait up to timeout_ms for WELCOME; false with the server's ERROR or the timeout.
    bool open(int timeout_ms, std::string& error);
    // Sends BYE (when welcomed and asked to) and closes the socket, lingering at most linger_ms.
    void close(bool send_bye, const std::string& reason = "engine closing", int linger_ms = 100);

    bool hasSocket() const { return socket_ != nullptr; }
    bool welcomed() const { return welcome_.has_value(); }
    const protocol::Welcome* welcome() const { return welcome_ ? &*welcome_ : nullptr; }
    const SessionConfig& config() const { return config_; }
    void setStreams(std::vector<protocol::StreamDeclaration> streams) { config_.streams = std::move(streams); }

    SendStatus send(const protocol::Message& message, bool block, const std::shared_ptr<const void>& keep_alive,
                    std::string& error);
    // A FRAME, refused locally (Rejected) when it is above WELCOME's max_frame_bytes.
    SendStatus sendFrame(const protocol::Frame& frame, bool block, const std::shared_ptr<const void>& keep_alive,
                         std::string& error);
    // An AUDIO chunk, refused locally (Rejected, the cause in `error`) when its stream was not
    // declared with audio, its format differs from the declaration, or it is above WELCOME's
    // max_frame_bytes.  `keep_alive` owns the samples (sent without copying).
    SendStatus sendAudio(const protocol::Audio& chunk, bool block, const std::shared_ptr<const void>& keep_alive,
                         std::string& error);
    // A CONTROL with the next request id (returned), or 0 when it could not be sent.
    uint64_t sendControl(uint16_t stream, const std::string& stage, const protocol::MsgpackValue& params,
                         std::optional<double> glide_ms, std::string& error);
    // Takes (docs/takes.md): a CONTROL to the stage "take" (on takeStream()) that starts recording a
    // take named `name` (empty: the server names it take-YYYYMMDD-HHMMSS), or stops the take
    // recording.  A session that declares no stream (a director console) may do it too.  Returns
    // the request id, or 0 with the cause in `error`: a name the server would refuse
    // (protocol::checkTakeName), not sent.  Read the CONTROL_ACK that answers it (receive / await)
    // with protocol::readTakeAck.
    uint64_t startTake(const std::string& name, std::string& error);
    uint64_t stopTake(std::string& error);
    // The stream a take CONTROL goes to: the lowest declared id, or 0 when none is declared (the
    // server ignores the stream of a take CONTROL, docs/protocol.md 6.5).
    uint16_t takeStream() const;

    // Liveness (section 7.6).  Sends a HEARTBEAT when nothing was sent for heartbeat_ms, and also
    // when nothing was heard for heartbeat_ms (so a server that vanished while frames stream is
    // noticed).  True when one was sent.
    bool heartbeatIfIdle(int64_t now_ns);
    // True when the server has been silent for WELCOME's timeout_ms although we sent a HEARTBEAT.
    bool serverSilent(int64_t now_ns) const;
    int64_t msSinceHeard(int64_t now_ns) const { return (now_ns - last_heard_ns_) / 1000000; }
    // Nanoseconds until heartbeatIfIdle has work to do (for a poll timeout).
    int64_t nsUntilHeartbeat(int64_t now_ns) const;

    // The next message: messages set aside by await() first, then the socket.  A WELCOME is
    // recorded (welcomed() becomes true); a BYE from the server ends the session (welcomed()
    // becomes false) and is still returned.  Unparsable messages are dropped with the cause.
    ReceiveStatus receive(int timeout_ms, ReceivedMessage& out, std::string& error);
    // Receives until `match` accepts a message, setting the others aside for receive().
    // An ERROR about `error_ref_kind` (e.g. "CONTROL") ends the wait with false.
    bool await(const std::function<bool(const protocol::Message&)>& match, int timeout_ms, ReceivedMessage& out,
               std::string& error, const std::string& error_ref_kind = std::string());

    void* pollHandle() { return socket_ ? socket_->handle() : nullptr; }
    // The connection monitor (see BridgeSocket::enableMonitor); nullptr without one.
    void* monitorHandle() { return socket_ ? socket_->monitorHandle() : nullptr; }
    // True when the connection underneath was lost since the last call: the session is gone.
    bool connectionLost() { return socket_ && socket_->connectionLost(); }

private:
    void noteIncoming(const protocol::Message& message);
    int64_t heartbeatIntervalNs() const;

    zmq::context_t& context_;
    SessionConfig config_;
    std::unique_ptr<BridgeSocket> socket_;
    std::optional<protocol::Welcome> welcome_;
    std::deque<ReceivedMessage> pending_;
    uint64_t next_request_id_ = 1;
    int64_t last_sent_ns_ = 0;
    int64_t last_heard_ns_ = 0;
    int64_t last_heartbeat_ns_ = 0;          // last HEARTBEAT sent
    int64_t last_heartbeat_attempt_ns_ = 0;  // last try, sent or not
};

}  // namespace transport
}  // namespace mbridge
