// One engine's DEALER socket (see Transport/BridgeSocket.h).
#include "Transport/BridgeSocket.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace mbridge {
namespace transport {

using protocol::ByteView;
using protocol::Message;

int64_t monotonicNowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

size_t ReceivedMessage::byteCount() const {
    size_t total = 0;
    for (const zmq::message_t& part : parts) {
        total += part.size();
    }
    return total;
}

namespace {

// ZeroMQ calls this (from its I/O thread) when it no longer needs a zero-copy part's bytes.
void releaseKeepAlive(void* /*data*/, void* hint) { delete static_cast<std::shared_ptr<const void>*>(hint); }

// Parts this small are cheaper to copy than to reference.
constexpr size_t kZeroCopyMinBytes = 1024;

zmq::message_t payloadPart(const ByteView& view, const std::shared_ptr<const void>& keep_alive) {
    if (!keep_alive || view.size < kZeroCopyMinBytes) {
        return zmq::message_t(view.data, view.size);
    }
    auto* hint = new std::shared_ptr<const void>(keep_alive);
    return zmq::message_t(const_cast<uint8_t*>(view.data), view.size, &releaseKeepAlive, hint);
}

bool checkPlanes(const std::vector<protocol::Plane>& planes, std::string& error) {
    if (planes.size() > protocol::kMaxPlanes) {
        error = std::to_string(planes.size()) + " planes, at most " + std::to_string(protocol::kMaxPlanes);
        return false;
    }
    bool seen[3] = {false, false, false};
    for (size_t i = 0; i < planes.size(); ++i) {
        const protocol::Plane& plane = planes[i];
        const std::string where = "planes[" + std::to_string(i) + "]";
        protocol::ProtocolError plane_error;
        if (!plane.descriptor.validate(where, plane_error)) {
            error = plane_error.describe();
            return false;
        }
        bool& kind_seen = seen[static_cast<size_t>(plane.descriptor.kind)];
        if (kind_seen) {
            error = where + " repeats plane kind " + protocol::planeKindName(plane.descriptor.kind);
            return false;
        }
        kind_seen = true;
        if (plane.data.size != plane.descriptor.byteLength() || (plane.data.size > 0 && plane.data.data == nullptr)) {
            error = where + " has " + std::to_string(plane.data.size) + " bytes but its descriptor needs " +
                    std::to_string(plane.descriptor.byteLength());
            return false;
        }
    }
    return true;
}

}  // namespace

bool checkOutgoing(const Message& message, std::string& error) {
    if (const auto* frame = std::get_if<protocol::Frame>(&message)) {
        return checkPlanes(frame->planes, error);
    }
    if (const auto* result = std::get_if<protocol::Result>(&message)) {
        return checkPlanes(result->planes, error);
    }
    if (const auto* audio = std::get_if<protocol::Audio>(&message)) {
        protocol::ProtocolError audio_error;
        if (!audio->validate(audio_error)) {
            error = audio_error.message;
            return false;
        }
        if (audio->pcm.data == nullptr) {
            error = "AUDIO has no sample buffer";
            return false;
        }
    }
    return true;
}

BridgeSocket::BridgeSocket(zmq::context_t& context, std::string endpoint)
    : context_(context), socket_(context, zmq::socket_type::dealer), endpoint_(std::move(endpoint)) {}

BridgeSocket::~BridgeSocket() {
    try {
        if (monitor_) {
            zmq_socket_monitor(socket_.handle(), nullptr, 0);  // stop the monitor first
            monitor_->close();
        }
        socket_.close();
    } catch (const zmq::error_t&) {
        // closing never throws in practice; nothing to do if it does
    }
}

bool BridgeSocket::enableMonitor(std::string& error) {
    // A fresh name each time: a closed socket's monitor endpoint is released asynchronously.
    static std::atomic<uint64_t> next_monitor{1};
    char address[96];
    std::snprintf(address, sizeof(address), "inproc://mbridge-monitor-%llu",
                  static_cast<unsigned long long>(next_monitor.fetch_add(1)));
    if (zmq_socket_monitor(socket_.handle(), address, ZMQ_EVENT_DISCONNECTED) != 0) {
        error = std::string("cannot monitor the connection to ") + endpoint_ + ": " + zmq_strerror(zmq_errno());
        return false;
    }
    try {
        monitor_.reset(new zmq::socket_t(context_, zmq::socket_type::pair));
        monitor_->set(zmq::sockopt::linger, 0);
        monitor_->connect(address);
    } catch (const zmq::error_t& exc) {
        zmq_socket_monitor(socket_.handle(), nullptr, 0);
        monitor_.reset();
        error = std::string("cannot monitor the connection to ") + endpoint_ + ": " + exc.what();
        return false;
    }
    return true;
}

bool BridgeSocket::connectionLost() {
    if (!monitor_) {
        return false;
    }
    bool lost = false;
    try {
        zmq::message_t part;
        while (monitor_->recv(part, zmq::recv_flags::dontwait)) {
            // An event is two parts: 6 bytes (uint16 event id, uint32 value, native byte order),
            // then the endpoint.  Only DISCONNECTED is subscribed.
            if (part.size() >= sizeof(uint16_t) && part.more()) {
                uint16_t event = 0;
                std::memcpy(&event, part.data(), sizeof(event));
                lost = lost || event == ZMQ_EVENT_DISCONNECTED;
            }
        }
    } catch (const zmq::error_t&) {
        return lost;
    }
    return lost;
}

std::unique_ptr<BridgeSocket> BridgeSocket::connect(zmq::context_t& context, const std::string& endpoint,
                                                    const Options& options, std::string& error) {
    try {
        std::unique_ptr<BridgeSocket> sock(new BridgeSocket(context, endpoint));
        sock->socket_.set(zmq::sockopt::sndhwm, options.send_hwm);
        sock->socket_.set(zmq::sockopt::rcvhwm, options.receive_hwm);
        sock->socket_.set(zmq::sockopt::linger, options.linger_ms);
        sock->socket_.connect(endpoint);
        return sock;
    } catch (const zmq::error_t& exc) {
        error = "cannot connect a DEALER socket to '" + endpoint + "': " + exc.what();
        return nullptr;
    }
}

void BridgeSocket::setLinger(int linger_ms) {
    try {
        socket_.set(zmq::sockopt::linger, linger_ms);
    } catch (const zmq::error_t&) {
        // a closed socket has nothing left to linger over
    }
}

SendStatus BridgeSocket::send(const Message& message, bool block, const std::shared_ptr<const void>& keep_alive,
                              std::string& error) {
    if (!checkOutgoing(message, error)) {
        error = std::string(protocol::messageKind(message)) + " not sent: " + error;
        return SendStatus::Rejected;
    }
    const protocol::SerializedMessage wire = protocol::serializeMessage(message);
    try {
        // Build every part first: a part that is never sent releases its keep-alive when destroyed.
        std::vector<zmq::message_t> parts;
        parts.reserve(1 + wire.payload.size());
        parts.emplace_back(wire.header.data(), wire.header.size());
        for (const ByteView& view : wire.payload) {
            parts.push_back(payloadPart(view, keep_alive));
        }
        for (size_t i = 0; i < parts.size(); ++i) {
            zmq::send_flags flags = i + 1 < parts.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
            if (i == 0 && !block) {
                flags = flags | zmq::send_flags::dontwait;
            }
            // ZeroMQ queues a multipart message as a whole: only the first part can meet a full queue.
            if (!socket_.send(parts[i], flags)) {
                return SendStatus::QueueFull;
            }
        }
        return SendStatus::Sent;
    } catch (const zmq::error_t& exc) {
        error = std::string("sending ") + protocol::messageKind(message) + " to " + endpoint_ + " failed: " + exc.what();
        return SendStatus::Closed;
    }
}

ReceiveStatus BridgeSocket::receive(int timeout_ms, ReceivedMessage& out, std::string& error) {
    try {
        zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)) == 0) {
            return ReceiveStatus::TimedOut;
        }
        out.parts.clear();
        // All parts of a message arrive together: once the first is there, the rest are too.
        zmq::recv_flags flags = zmq::recv_flags::dontwait;
        do {
            zmq::message_t part;
            if (!socket_.recv(part, flags)) {
                if (out.parts.empty()) {
                    return ReceiveStatus::TimedOut;
                }
                flags = zmq::recv_flags::none;
                continue;
            }
            out.parts.push_back(std::move(part));
        } while (out.parts.back().more());
    } catch (const zmq::error_t& exc) {
        error = "receiving from " + endpoint_ + " failed: " + exc.what();
        return ReceiveStatus::Closed;
    }
    // The views point into out.parts, which stays where it is from here on.
    std::vector<ByteView> views;
    views.reserve(out.parts.size());
    for (const zmq::message_t& part : out.parts) {
        views.emplace_back(static_cast<const uint8_t*>(part.data()), part.size());
    }
    protocol::ProtocolError parse_error;
    if (!protocol::parseMessage(views, out.message, parse_error)) {
        error = "unparsable message from " + endpoint_ + ": " + parse_error.describe();
        return ReceiveStatus::Unparsable;
    }
    return ReceiveStatus::Received;
}

}  // namespace transport
}  // namespace mbridge
