// The engine side of the bridge on a worker thread: connect, HELLO, heartbeats, reconnect with
// backoff, latest-frame-wins sending, AUDIO chunks in order (bounded queue), controls that
// survive reconnects, take start / stop with their answers read, the server's take state followed
// (capability "session"), clean shutdown.
//
// Plain C++17 over cppzmq.  The owner runs run() on a thread of its choice (FRunnable in Unreal,
// std::thread in the tests) and calls requestStop() + joins to end it; every other public
// method may be called from any thread.  Callbacks run on the worker thread and must not block
// (hand work to another thread: the Unreal subsystem queues to the game thread).
//
// No call blocks on the network: producers enqueue and wake the worker through an inproc
// socket, and the worker's poll waits on the server socket and that wake socket together.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "Transport/ZmqInclude.h"

#include "Protocol/Messages.h"
#include "Protocol/TakeControl.h"
#include "Transport/BridgeSocket.h"
#include "Transport/EngineSession.h"

namespace mbridge {
namespace transport {

enum class LinkState { Idle, Connecting, Connected, Stopped };
const char* linkStateName(LinkState state);

enum class LinkLogLevel { Verbose, Info, Warning, Error };

struct LinkOptions {
    int reconnect_delay_ms = 1000;       // first retry; doubles per failure up to the max
    int max_reconnect_delay_ms = 10000;
    int welcome_timeout_ms = 30000;      // pipelines may load models before WELCOME
    int max_poll_ms = 50;                // upper bound of one wait of the loop
    int bye_linger_ms = 200;             // at shutdown: time ZeroMQ gets to deliver the BYE
    size_t max_queued_audio_chunks = 128;  // beyond that new AUDIO chunks are dropped (counted)
};

// Called on the worker thread.
struct LinkCallbacks {
    std::function<void(const protocol::Welcome&)> on_connected;
    std::function<void(const std::string& reason)> on_disconnected;
    std::function<void(std::shared_ptr<const ReceivedMessage>)> on_result;  // holds a protocol::Result
    std::function<void(const protocol::ControlAck&)> on_control_ack;
    // The answer to every startTake / stopTake, read (instead of on_control_ack, which gets it only
    // when this one is not set); also a failed TakeAck (no code) when the request was lost: not
    // sent, or the connection went before the answer.
    std::function<void(const protocol::TakeAck&)> on_take_ack;
    std::function<void(const protocol::Stats&)> on_stats;
    std::function<void(const protocol::Error&)> on_error;
    std::function<void(std::shared_ptr<const ReceivedMessage>)> on_mocap;  // holds a protocol::Mocap
    std::function<void(const protocol::SessionEvent&)> on_session_event;    // capability "session"
    std::function<void(const protocol::StateChange&)> on_state_change;      // capability "session"
    // Capability "session": the server's take state changed (a take started or stopped, whoever
    // started it: this engine, another, OSC, the server's command line), or the SESSION snapshot
    // after a WELCOME told it (no take yet: recording false, take empty).  Called after
    // on_session_event / on_state_change, only when the state differs from takeState().
    std::function<void(const protocol::TakeState&)> on_take_state;
    std::function<void(LinkLogLevel, const std::string&)> on_log;
};

struct LinkCounters {
    uint64_t frames_submitted = 0;
    uint64_t frames_sent = 0;
    uint64_t frames_replaced = 0;  // a newer frame of the stream arrived before this one was sent
    uint64_t frames_skipped = 0;   // send queue full, or not connected
    uint64_t audio_chunks_submitted = 0;
    uint64_t audio_chunks_sent = 0;
    uint64_t audio_chunks_dropped = 0;  // not connected, queue full, refused by the session
    uint64_t results = 0;
    uint64_t server_dropped = 0;   // sum of RESULT.dropped
    uint64_t errors = 0;
    uint64_t connects = 0;
    uint64_t disconnects = 0;
    double rtt_ms_last = 0.0;      // RESULT arrival - t_capture_ns
    double rtt_ms_p50 = 0.0;       // over the last 256 RESULTs
    double rtt_ms_p95 = 0.0;
};

class EngineLink {
public:
    EngineLink(SessionConfig config, LinkOptions options, LinkCallbacks callbacks);
    ~EngineLink();
    EngineLink(const EngineLink&) = delete;
    EngineLink& operator=(const EngineLink&) = delete;

    // Worker thread body; returns after requestStop(), having said BYE to the server.
    void run();
    void requestStop();

    // Queues a FRAME; a newer frame of the same stream replaces one not yet sent.  `keep_alive`
    // owns the plane bytes (they are sent without copying).  Frames are sent only while
    // Connected; others are skipped (counted).
    void submitFrame(protocol::Frame frame, std::shared_ptr<const void> keep_alive);
    // Queues one AUDIO chunk of a stream declared with audio: `pcm_s16le` holds whole frames of
    // `channels` interleaved signed 16-bit little-endian samples (at most one second), the first
    // captured at `t_capture_ns` (monotonicNowNs, the clock of FRAME.t_capture_ns).  Never blocks.
    // Returns the chunk's index (per stream, one more per call, so a chunk dropped later leaves a
    // gap the server sees), or -1 when it was not queued: the stream has no such audio declaration,
    // the chunk is malformed (the cause in *error), the link is not connected, or the queue is full.
    int64_t submitAudio(uint16_t stream, uint64_t t_capture_ns, std::vector<uint8_t> pcm_s16le, uint32_t sample_rate_hz,
                        uint32_t channels, std::string* error = nullptr);
    // Queues a CONTROL and returns its request id (the CONTROL_ACK carries it).  The values are
    // remembered per (stream, stage) and sent again after every reconnect, since a new session
    // starts from the pipeline's configured values.
    uint64_t submitControl(uint16_t stream, std::string stage, protocol::MsgpackValue params,
                           std::optional<double> glide_ms = std::nullopt);
    // Takes (docs/takes.md): queue a CONTROL to the stage "take" that starts recording a take named
    // `name` (empty: the server names it take-YYYYMMDD-HHMMSS) or stops the take recording.  Sent
    // once connected, on the lowest declared stream (stream 0 when the link declares none: a
    // director console may start and stop takes); never replayed after a reconnect.  Returns the
    // request id that on_take_ack reports on, or 0 when the name breaks the server's rule (the cause
    // in *error; nothing is queued).
    uint64_t startTake(const std::string& name = std::string(), std::string* error = nullptr);
    uint64_t stopTake();
    void requestStats();
    // Declares a new set of streams: the worker says BYE and starts a new session with them.
    void setStreams(std::vector<protocol::StreamDeclaration> streams);

    LinkState state() const { return state_.load(); }
    LinkCounters counters() const;
    std::optional<protocol::Welcome> welcome() const;
    // The server's take state as last heard; nullopt before the server said anything (always
    // without the capability "session", under which alone the server tells it).
    std::optional<protocol::TakeState> takeState() const;

private:
    struct PendingFrame {
        protocol::Frame frame;
        std::shared_ptr<const void> keep_alive;
    };
    struct PendingAudio {
        protocol::Audio chunk;  // chunk.pcm points into *samples
        std::shared_ptr<const std::vector<uint8_t>> samples;
    };
    struct PendingControl {
        protocol::Control control;
        bool replay = false;  // sent again after a reconnect
        std::optional<bool> take_record;  // a take start (true) or stop (false): its stream is chosen when sent
    };
    struct TakeRequest {
        bool record = false;
        bool sent = false;
    };

    void wake();
    void log(LinkLogLevel level, const std::string& message);
    void step(int64_t now_ns);
    void startSession(int64_t now_ns);
    void endSession(const std::string& reason, bool send_bye, bool notify);
    void scheduleRetry(int64_t now_ns);
    void sendFrames();
    void sendAudio();
    void sendControls();
    void replayControlState();
    uint64_t submitTake(bool record, protocol::MsgpackValue params);
    void reportTake(const protocol::TakeAck& ack);
    void failSentTakeRequests(const std::string& why);
    void followTakeState(const protocol::Message& message);
    void dispatch(ReceivedMessage&& message);
    void drainWake();
    void drainMessages();
    int pollTimeoutMs(int64_t now_ns) const;
    void recordRtt(double rtt_ms);

    SessionConfig config_;
    LinkOptions options_;
    LinkCallbacks callbacks_;

    zmq::context_t context_;
    zmq::socket_t wake_pull_;  // worker side
    zmq::socket_t wake_push_;  // producer side, guarded by wake_mutex_
    std::mutex wake_mutex_;
    std::unique_ptr<EngineSession> session_;  // worker thread only

    std::atomic<LinkState> state_{LinkState::Idle};
    std::atomic<bool> stop_requested_{false};
    int64_t next_attempt_ns_ = 0;
    int64_t welcome_deadline_ns_ = 0;
    int retry_delay_ms_ = 0;

    mutable std::mutex mutex_;  // guards everything below
    std::map<uint16_t, PendingFrame> frames_;
    std::deque<PendingAudio> audio_;
    std::map<uint16_t, protocol::AudioFormat> audio_formats_;  // of the declared streams
    std::map<uint16_t, uint64_t> next_audio_index_;
    std::vector<PendingControl> controls_;
    std::map<std::pair<uint16_t, std::string>, protocol::MsgpackValue> control_state_;
    std::map<uint64_t, std::pair<uint16_t, std::string>> control_targets_;
    std::map<uint64_t, TakeRequest> take_requests_;  // take CONTROLs awaiting their CONTROL_ACK
    std::optional<std::vector<protocol::StreamDeclaration>> new_streams_;
    bool stats_requested_ = false;
    uint64_t next_request_id_ = 1;
    LinkCounters counters_;
    std::vector<double> rtt_ring_ms_;
    size_t rtt_next_ = 0;
    std::optional<protocol::Welcome> welcome_;
    std::optional<protocol::TakeState> take_state_;
};

}  // namespace transport
}  // namespace mbridge
