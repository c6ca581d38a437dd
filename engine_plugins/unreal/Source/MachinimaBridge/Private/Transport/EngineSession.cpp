// One engine session on one socket (see Transport/EngineSession.h).
#include "Transport/EngineSession.h"

#include <algorithm>

namespace mbridge {
namespace transport {

using protocol::Message;

EngineSession::EngineSession(zmq::context_t& context, SessionConfig config)
    : context_(context), config_(std::move(config)) {}

EngineSession::~EngineSession() { close(false, std::string(), 0); }

bool EngineSession::begin(std::string& error) {
    close(false, std::string(), 0);
    socket_ = BridgeSocket::connect(context_, config_.endpoint, config_.socket, error);
    if (!socket_) {
        return false;
    }
    if (config_.monitor_connection && !socket_->enableMonitor(error)) {
        close(false, std::string(), 0);
        return false;
    }
    protocol::Hello hello;
    hello.engine = config_.engine;
    hello.client = config_.client;
    hello.session = config_.session;
    hello.streams = config_.streams;
    hello.capabilities = config_.capabilities;
    hello.heartbeat_ms = config_.heartbeat_ms;
    const int64_t now = monotonicNowNs();
    last_heard_ns_ = now;
    last_heartbeat_ns_ = 0;
    last_heartbeat_attempt_ns_ = 0;
    if (send(hello, true, nullptr, error) != SendStatus::Sent) {
        close(false, std::string(), 0);
        return false;
    }
    return true;
}

bool EngineSession::open(int timeout_ms, std::string& error) {
    if (!begin(error)) {
        return false;
    }
    ReceivedMessage reply;
    const bool ok = await([](const Message& m) { return std::holds_alternative<protocol::Welcome>(m); }, timeout_ms,
                          reply, error, protocol::Hello::kKind);
    if (!ok) {
        error = "no WELCOME from " + config_.endpoint + ": " + error;
        close(false, std::string(), 0);
    }
    return ok;
}

void EngineSession::close(bool send_bye, const std::string& reason, int linger_ms) {
    if (!socket_) {
        return;
    }
    if (send_bye && welcome_) {
        std::string ignored;
        protocol::Bye bye;
        bye.reason = reason;
        socket_->send(bye, false, nullptr, ignored);
    }
    socket_->setLinger(send_bye ? linger_ms : 0);
    socket_.reset();
    welcome_.reset();
    pending_.clear();
}

SendStatus EngineSession::send(const Message& message, bool block, const std::shared_ptr<const void>& keep_alive,
                               std::string& error) {
    if (!socket_) {
        error = std::string(protocol::messageKind(message)) + " not sent: no socket (call begin() first)";
        return SendStatus::Closed;
    }
    const SendStatus status = socket_->send(message, block, keep_alive, error);
    if (status == SendStatus::Sent) {
        last_sent_ns_ = monotonicNowNs();
    }
    return status;
}

SendStatus EngineSession::sendFrame(const protocol::Frame& frame, bool block,
                                    const std::shared_ptr<const void>& keep_alive, std::string& error) {
    if (welcome_) {
        uint64_t total = 0;
        for (const protocol::Plane& plane : frame.planes) {
            total += plane.data.size;
        }
        if (total > welcome_->max_frame_bytes) {
            error = "FRAME " + std::to_string(frame.index) + " not sent: its planes are " + std::to_string(total) +
                    " bytes, above the server's max_frame_bytes " + std::to_string(welcome_->max_frame_bytes);
            return SendStatus::Rejected;
        }
    }
    return send(frame, block, keep_alive, error);
}

SendStatus EngineSession::sendAudio(const protocol::Audio& chunk, bool block,
                                    const std::shared_ptr<const void>& keep_alive, std::string& error) {
    const protocol::StreamDeclaration* declared = nullptr;
    for (const protocol::StreamDeclaration& stream : config_.streams) {
        if (stream.id == chunk.stream) {
            declared = &stream;
        }
    }
    const std::string what = "AUDIO " + std::to_string(chunk.index) + " of stream " + std::to_string(chunk.stream);
    if (declared == nullptr || !declared->audio) {
        error = what + " not sent: the stream was not declared" + (declared ? " with audio" : "") + " in HELLO";
        return SendStatus::Rejected;
    }
    if (*declared->audio != chunk.format()) {
        error = what + " not sent: it is " + chunk.format().describe() + " but the stream was declared " +
                declared->audio->describe();
        return SendStatus::Rejected;
    }
    if (welcome_ && chunk.pcm.size > welcome_->max_frame_bytes) {
        error = what + " not sent: " + std::to_string(chunk.pcm.size) + " bytes, above the server's max_frame_bytes " +
                std::to_string(welcome_->max_frame_bytes);
        return SendStatus::Rejected;
    }
    return send(chunk, block, keep_alive, error);
}

uint64_t EngineSession::sendControl(uint16_t stream, const std::string& stage, const protocol::MsgpackValue& params,
                                    std::optional<double> glide_ms, std::string& error) {
    protocol::Control control;
    control.request_id = next_request_id_++;
    control.stream = stream;
    control.stage = stage;
    control.params = params;
    control.glide_ms = glide_ms;
    return send(control, true, nullptr, error) == SendStatus::Sent ? control.request_id : 0;
}

uint16_t EngineSession::takeStream() const {
    if (config_.streams.empty()) {
        return 0;  // no stream declared: the server ignores a take CONTROL's stream, 0 will do
    }
    uint16_t stream = config_.streams.front().id;
    for (const protocol::StreamDeclaration& declared : config_.streams) {
        stream = std::min(stream, declared.id);
    }
    return stream;
}

uint64_t EngineSession::startTake(const std::string& name, std::string& error) {
    if (!name.empty() && !protocol::checkTakeName(name, error)) {
        return 0;
    }
    return sendControl(takeStream(), protocol::kTakeStage, protocol::takeStartParams(name), std::nullopt, error);
}

uint64_t EngineSession::stopTake(std::string& error) {
    return sendControl(takeStream(), protocol::kTakeStage, protocol::takeStopParams(), std::nullopt, error);
}

int64_t EngineSession::heartbeatIntervalNs() const {
    const uint64_t ms = welcome_ ? welcome_->heartbeat_ms : config_.heartbeat_ms;
    return static_cast<int64_t>(ms) * 1000000;
}

int64_t EngineSession::nsUntilHeartbeat(int64_t now_ns) const {
    if (!welcome_) {
        return heartbeatIntervalNs();
    }
    const int64_t interval = heartbeatIntervalNs();
    const int64_t due_idle = last_sent_ns_ + interval;
    const int64_t due_probe = std::max(last_heard_ns_, last_heartbeat_ns_) + interval;
    const int64_t due = std::max(std::min(due_idle, due_probe), last_heartbeat_attempt_ns_ + interval);
    return std::max<int64_t>(0, due - now_ns);
}

bool EngineSession::heartbeatIfIdle(int64_t now_ns) {
    if (!welcome_ || !socket_) {
        return false;
    }
    const int64_t interval = heartbeatIntervalNs();
    const bool idle = now_ns - last_sent_ns_ >= interval;
    const bool unheard = now_ns - last_heard_ns_ >= interval && now_ns - last_heartbeat_ns_ >= interval;
    if ((!idle && !unheard) || now_ns - last_heartbeat_attempt_ns_ < interval) {
        return false;  // at most one attempt per interval, even when the send queue is full
    }
    last_heartbeat_attempt_ns_ = now_ns;
    protocol::Heartbeat beat;
    beat.t_ns = static_cast<uint64_t>(now_ns);
    std::string error;
    if (send(beat, false, nullptr, error) != SendStatus::Sent) {
        return false;
    }
    last_heartbeat_ns_ = now_ns;
    return true;
}

bool EngineSession::serverSilent(int64_t now_ns) const {
    if (!welcome_) {
        return false;
    }
    const int64_t timeout_ns = static_cast<int64_t>(welcome_->timeout_ms) * 1000000;
    return now_ns - last_heard_ns_ > timeout_ns && last_heartbeat_ns_ > last_heard_ns_;
}

void EngineSession::noteIncoming(const Message& message) {
    last_heard_ns_ = monotonicNowNs();
    if (const auto* welcome = std::get_if<protocol::Welcome>(&message)) {
        welcome_ = *welcome;
    } else if (std::holds_alternative<protocol::Bye>(message)) {
        welcome_.reset();
    }
}

ReceiveStatus EngineSession::receive(int timeout_ms, ReceivedMessage& out, std::string& error) {
    if (!pending_.empty()) {
        out = std::move(pending_.front());
        pending_.pop_front();
        return ReceiveStatus::Received;
    }
    if (!socket_) {
        error = "no socket (call begin() first)";
        return ReceiveStatus::Closed;
    }
    const ReceiveStatus status = socket_->receive(timeout_ms, out, error);
    if (status == ReceiveStatus::Received) {
        noteIncoming(out.message);
    } else if (status == ReceiveStatus::Unparsable) {
        last_heard_ns_ = monotonicNowNs();  // the server is there, even if it said something odd
    }
    return status;
}

bool EngineSession::await(const std::function<bool(const Message&)>& match, int timeout_ms, ReceivedMessage& out,
                          std::string& error, const std::string& error_ref_kind) {
    if (!socket_) {
        error = "no socket (call begin() first)";
        return false;
    }
    const int64_t deadline = monotonicNowNs() + static_cast<int64_t>(timeout_ms) * 1000000;
    while (true) {
        const int64_t left_ms = (deadline - monotonicNowNs()) / 1000000;
        if (left_ms <= 0) {
            error = "nothing matching arrived within " + std::to_string(timeout_ms) + " ms";
            return false;
        }
        ReceivedMessage msg;
        std::string receive_error;
        const ReceiveStatus status = socket_->receive(static_cast<int>(left_ms), msg, receive_error);
        if (status == ReceiveStatus::Closed) {
            error = receive_error;
            return false;
        }
        if (status != ReceiveStatus::Received) {
            continue;  // timed out (loop re-checks the deadline) or dropped an unparsable message
        }
        noteIncoming(msg.message);
        if (match(msg.message)) {
            out = std::move(msg);
            return true;
        }
        const auto* err = std::get_if<protocol::Error>(&msg.message);
        if (err && !error_ref_kind.empty() && (!err->ref_kind || *err->ref_kind == error_ref_kind)) {
            error = "server error " + err->name + ": " + err->message;
            return false;
        }
        pending_.push_back(std::move(msg));
    }
}

}  // namespace transport
}  // namespace mbridge
