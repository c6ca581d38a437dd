// One engine's DEALER socket speaking protocol v1 (docs/protocol.md section 1).
//
// Plain C++17 over cppzmq (no Unreal types): the Unreal worker thread and the g++ test client
// use the same code.  cppzmq reports failures with exceptions; every one is caught here and
// turned into a status and a message naming the endpoint and cause.
//
// Not thread-safe: one thread uses a socket (ZeroMQ's rule).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "Transport/ZmqInclude.h"

#include "Protocol/Messages.h"

namespace mbridge {
namespace transport {

// The engine's monotonic clock in nanoseconds (std::chrono::steady_clock): the clock of
// FRAME.t_capture_ns, so round trip = monotonicNowNs() - RESULT.t_capture_ns.
int64_t monotonicNowNs();

// A received message and the ZeroMQ parts that own its bytes: Plane::data and Mocap::parts
// point into `parts`.  Move-only; moving keeps those pointers valid (the vector's storage moves
// as a whole).
struct ReceivedMessage {
    std::vector<zmq::message_t> parts;
    protocol::Message message;

    ReceivedMessage() = default;
    ReceivedMessage(ReceivedMessage&&) = default;
    ReceivedMessage& operator=(ReceivedMessage&&) = default;
    ReceivedMessage(const ReceivedMessage&) = delete;
    ReceivedMessage& operator=(const ReceivedMessage&) = delete;

    size_t byteCount() const;
};

enum class SendStatus {
    Sent,
    QueueFull,  // non-blocking send and the send queue is at its high-water mark: skip the frame
    Rejected,   // the message breaks the protocol (plane sizes, ...) and was not sent
    Closed,     // the socket or its context is closed
};

enum class ReceiveStatus {
    Received,
    TimedOut,
    Unparsable,  // a message arrived that does not parse; it was consumed and `error` says why
    Closed,
};

class BridgeSocket {
public:
    struct Options {
        int send_hwm = 4;  // small, so frames do not queue behind a slow link (section 1)
        int receive_hwm = 64;
        int linger_ms = 0;
    };

    // A connected DEALER socket, or nullptr with the cause in `error` (bad endpoint, ...).
    static std::unique_ptr<BridgeSocket> connect(zmq::context_t& context, const std::string& endpoint,
                                                 const Options& options, std::string& error);
    ~BridgeSocket();
    BridgeSocket(const BridgeSocket&) = delete;
    BridgeSocket& operator=(const BridgeSocket&) = delete;

    // Sends one message.  Plane and MOCAP parts are sent without copying when `keep_alive` owns
    // their bytes (ZeroMQ releases it once the bytes are on the wire); without it they are copied.
    SendStatus send(const protocol::Message& message, bool block, const std::shared_ptr<const void>& keep_alive,
                    std::string& error);

    // Waits up to timeout_ms (0: just look, -1: forever) for one message and parses it.
    ReceiveStatus receive(int timeout_ms, ReceivedMessage& out, std::string& error);

    // Watches the connection underneath (a ZeroMQ socket monitor on an inproc PAIR socket).  The
    // server knows an engine by its connection, so a lost connection means a lost session even
    // when ZeroMQ reconnects by itself (docs/protocol.md section 1).
    bool enableMonitor(std::string& error);
    void* monitorHandle() { return monitor_ ? monitor_->handle() : nullptr; }
    // Reads the monitor's pending events; true when the connection to the server was lost.
    bool connectionLost();

    // For zmq_poll over several sockets.
    void* handle() { return socket_.handle(); }
    const std::string& endpoint() const { return endpoint_; }
    void setLinger(int linger_ms);

private:
    BridgeSocket(zmq::context_t& context, std::string endpoint);

    zmq::context_t& context_;
    zmq::socket_t socket_;
    std::unique_ptr<zmq::socket_t> monitor_;  // PAIR receiving the socket monitor's events
    std::string endpoint_;
};

// Checks a message an engine is about to send: plane count and kinds, descriptors, and that each
// plane's bytes are exactly stride * height; an AUDIO's ranges and that its part is exactly
// samples * channels * 2 bytes.  False with the cause in `error`.
bool checkOutgoing(const protocol::Message& message, std::string& error);

}  // namespace transport
}  // namespace mbridge
