// The engine side of the bridge on a worker thread (see Transport/EngineLink.h).
#include "Transport/EngineLink.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace mbridge {
namespace transport {

using protocol::Message;

namespace {

constexpr size_t kRttWindow = 256;

double percentile(std::vector<double> values, double q) {
    if (values.empty()) {
        return 0.0;
    }
    std::sort(values.begin(), values.end());
    const double pos = q * static_cast<double>(values.size() - 1);
    const auto lo = static_cast<size_t>(pos);
    const size_t hi = std::min(lo + 1, values.size() - 1);
    return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

// A fresh name per link: inproc endpoints of closed sockets are released asynchronously.
std::string wakeEndpoint() {
    static std::atomic<uint64_t> next_link{1};
    char buf[64];
    std::snprintf(buf, sizeof(buf), "inproc://mbridge-link-wake-%llu", static_cast<unsigned long long>(next_link.fetch_add(1)));
    return buf;
}

}  // namespace

const char* linkStateName(LinkState state) {
    switch (state) {
        case LinkState::Idle: return "idle";
        case LinkState::Connecting: return "connecting";
        case LinkState::Connected: return "connected";
        case LinkState::Stopped: return "stopped";
    }
    return "unknown";
}

EngineLink::EngineLink(SessionConfig config, LinkOptions options, LinkCallbacks callbacks)
    : config_(std::move(config)),
      options_(options),
      callbacks_(std::move(callbacks)),
      context_(1),
      wake_pull_(context_, zmq::socket_type::pull),
      wake_push_(context_, zmq::socket_type::push) {
    config_.monitor_connection = true;  // a lost connection is a lost session (see run())
    const std::string endpoint = wakeEndpoint();
    wake_pull_.set(zmq::sockopt::linger, 0);
    wake_push_.set(zmq::sockopt::linger, 0);
    wake_push_.set(zmq::sockopt::sndhwm, 1);  // one pending wake-up is enough
    wake_pull_.bind(endpoint);
    wake_push_.connect(endpoint);
    retry_delay_ms_ = options_.reconnect_delay_ms;
    rtt_ring_ms_.reserve(kRttWindow);
    for (const protocol::StreamDeclaration& stream : config_.streams) {
        if (stream.audio) {
            audio_formats_[stream.id] = *stream.audio;
        }
    }
}

EngineLink::~EngineLink() {
    session_.reset();
    wake_push_.close();
    wake_pull_.close();
    context_.close();
}

void EngineLink::log(LinkLogLevel level, const std::string& message) {
    if (callbacks_.on_log) {
        callbacks_.on_log(level, message);
    }
}

void EngineLink::wake() {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    try {
        const char byte = 1;
        wake_push_.send(zmq::const_buffer(&byte, 1), zmq::send_flags::dontwait);  // full queue: already awake
    } catch (const zmq::error_t&) {
        // the context is closing: the worker is stopping anyway
    }
}

void EngineLink::drainWake() {
    zmq::message_t msg;
    try {
        while (wake_pull_.recv(msg, zmq::recv_flags::dontwait)) {
        }
    } catch (const zmq::error_t&) {
    }
}

void EngineLink::requestStop() {
    stop_requested_ = true;
    wake();
}

void EngineLink::submitFrame(protocol::Frame frame, std::shared_ptr<const void> keep_alive) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++counters_.frames_submitted;
        auto it = frames_.find(frame.stream);
        if (it != frames_.end()) {
            ++counters_.frames_replaced;
            it->second = PendingFrame{std::move(frame), std::move(keep_alive)};
        } else {
            const uint16_t stream = frame.stream;
            frames_.emplace(stream, PendingFrame{std::move(frame), std::move(keep_alive)});
        }
    }
    wake();
}

int64_t EngineLink::submitAudio(uint16_t stream, uint64_t t_capture_ns, std::vector<uint8_t> pcm_s16le,
                                uint32_t sample_rate_hz, uint32_t channels, std::string* error) {
    auto refuse = [&](const std::string& why) {
        if (error) {
            *error = "AUDIO for stream " + std::to_string(stream) + " not queued: " + why;
        }
        return int64_t{-1};
    };
    int64_t index = -1;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ++counters_.audio_chunks_submitted;
        const auto format = audio_formats_.find(stream);
        const protocol::AudioFormat given{sample_rate_hz, channels};
        std::string why;
        if (format == audio_formats_.end()) {
            why = "the stream was not declared with audio";
        } else if (format->second != given) {
            why = "it is " + given.describe() + " but the stream was declared " + format->second.describe();
        } else if (pcm_s16le.empty() || pcm_s16le.size() % (static_cast<size_t>(channels) * 2) != 0) {
            why = std::to_string(pcm_s16le.size()) + " bytes is not a whole, non-zero number of " +
                  std::to_string(channels) + "-channel 16-bit frames";
        } else if (pcm_s16le.size() / (static_cast<size_t>(channels) * 2) > sample_rate_hz) {
            why = "more than one second of samples; send shorter chunks";
        }
        if (!why.empty()) {
            ++counters_.audio_chunks_dropped;
            return refuse(why);
        }
        const uint64_t next = next_audio_index_[stream]++;
        if (state_ != LinkState::Connected || audio_.size() >= std::max<size_t>(1, options_.max_queued_audio_chunks)) {
            ++counters_.audio_chunks_dropped;
            return refuse(state_ != LinkState::Connected ? "not connected" : "the queue is full");
        }
        auto samples = std::make_shared<const std::vector<uint8_t>>(std::move(pcm_s16le));
        PendingAudio pending;
        pending.chunk.stream = stream;
        pending.chunk.index = next;
        pending.chunk.t_capture_ns = t_capture_ns;
        pending.chunk.sample_rate_hz = sample_rate_hz;
        pending.chunk.channels = channels;
        pending.chunk.samples = static_cast<uint32_t>(samples->size() / (static_cast<size_t>(channels) * 2));
        pending.chunk.pcm = protocol::ByteView(*samples);
        pending.samples = std::move(samples);
        audio_.push_back(std::move(pending));
        index = static_cast<int64_t>(next);
    }
    wake();
    return index;
}

uint64_t EngineLink::submitControl(uint16_t stream, std::string stage, protocol::MsgpackValue params,
                                   std::optional<double> glide_ms) {
    uint64_t request_id = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        request_id = next_request_id_++;
        protocol::MsgpackValue& state = control_state_[{stream, stage}];
        if (!state.isMap()) {
            state = protocol::MsgpackValue::map();
        }
        protocol::MsgpackValue merged = protocol::MsgpackValue::map();
        for (size_t i = 0; i < state.size(); ++i) {
            if (!params.contains(state.keyAt(i))) {
                merged.append(state.keyAt(i), state.at(i));
            }
        }
        for (size_t i = 0; i < params.size(); ++i) {
            merged.append(params.keyAt(i), params.at(i));
        }
        state = std::move(merged);
        protocol::Control control;
        control.request_id = request_id;
        control.stream = stream;
        control.stage = std::move(stage);
        control.params = std::move(params);
        control.glide_ms = glide_ms;
        control_targets_[request_id] = {control.stream, control.stage};
        controls_.push_back(PendingControl{std::move(control), false, std::nullopt});
    }
    wake();
    return request_id;
}

uint64_t EngineLink::startTake(const std::string& name, std::string* error) {
    std::string problem;
    if (!name.empty() && !protocol::checkTakeName(name, problem)) {
        log(LinkLogLevel::Warning, "take not started: " + problem);
        if (error != nullptr) {
            *error = problem;
        }
        return 0;
    }
    return submitTake(true, protocol::takeStartParams(name));
}

uint64_t EngineLink::stopTake() { return submitTake(false, protocol::takeStopParams()); }

uint64_t EngineLink::submitTake(bool record, protocol::MsgpackValue params) {
    uint64_t request_id = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        request_id = next_request_id_++;
        PendingControl pending;
        pending.control.request_id = request_id;
        pending.control.stage = protocol::kTakeStage;
        pending.control.params = std::move(params);
        pending.take_record = record;
        take_requests_[request_id] = TakeRequest{record, false};
        controls_.push_back(std::move(pending));
    }
    wake();
    return request_id;
}

void EngineLink::reportTake(const protocol::TakeAck& ack) {
    if (!ack.ok) {
        log(LinkLogLevel::Warning, ack.describe());
    }
    if (callbacks_.on_take_ack) {
        callbacks_.on_take_ack(ack);
    }
}

void EngineLink::failSentTakeRequests(const std::string& why) {
    std::vector<std::pair<uint64_t, bool>> lost;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = take_requests_.begin(); it != take_requests_.end();) {
            if (it->second.sent) {
                lost.emplace_back(it->first, it->second.record);
                it = take_requests_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (const auto& request : lost) {
        reportTake(protocol::failedTakeAck(
            request.first, request.second,
            std::string("no answer to the take ") + (request.second ? "start" : "stop") + ": " + why +
                "; the server may have acted on it (`machinima-bridge takes list` shows its takes)"));
    }
}

void EngineLink::requestStats() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_requested_ = true;
    }
    wake();
}

void EngineLink::setStreams(std::vector<protocol::StreamDeclaration> streams) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        audio_formats_.clear();
        for (const protocol::StreamDeclaration& stream : streams) {
            if (stream.audio) {
                audio_formats_[stream.id] = *stream.audio;
            }
        }
        new_streams_ = std::move(streams);
    }
    wake();
}

LinkCounters EngineLink::counters() const {
    std::lock_guard<std::mutex> lock(mutex_);
    LinkCounters out = counters_;
    out.rtt_ms_p50 = percentile(rtt_ring_ms_, 0.50);
    out.rtt_ms_p95 = percentile(rtt_ring_ms_, 0.95);
    return out;
}

std::optional<protocol::Welcome> EngineLink::welcome() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return welcome_;
}

std::optional<protocol::TakeState> EngineLink::takeState() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return take_state_;
}

void EngineLink::recordRtt(double rtt_ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    counters_.rtt_ms_last = rtt_ms;
    if (rtt_ring_ms_.size() < kRttWindow) {
        rtt_ring_ms_.push_back(rtt_ms);
    } else {
        rtt_ring_ms_[rtt_next_] = rtt_ms;
    }
    rtt_next_ = (rtt_next_ + 1) % kRttWindow;
}

// ------------------------------------------------------------------------------ worker

void EngineLink::run() {
    session_.reset(new EngineSession(context_, config_));
    next_attempt_ns_ = monotonicNowNs();
    while (!stop_requested_) {
        step(monotonicNowNs());
        zmq::pollitem_t items[3] = {{wake_pull_.handle(), 0, ZMQ_POLLIN, 0},
                                    {session_->pollHandle(), 0, ZMQ_POLLIN, 0},
                                    {session_->monitorHandle(), 0, ZMQ_POLLIN, 0}};
        const int count = !session_->hasSocket() ? 1 : (session_->monitorHandle() ? 3 : 2);
        try {
            zmq::poll(items, static_cast<size_t>(count), std::chrono::milliseconds(pollTimeoutMs(monotonicNowNs())));
        } catch (const zmq::error_t& exc) {
            log(LinkLogLevel::Error, std::string("poll failed: ") + exc.what());
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            drainWake();
        }
        if (count >= 2 && session_->hasSocket() && (items[1].revents & ZMQ_POLLIN)) {
            drainMessages();
        }
        if (count == 3 && session_->hasSocket() && (items[2].revents & ZMQ_POLLIN) && session_->connectionLost()) {
            // A server that stops says BYE before its connection goes: read what is queued first,
            // so the BYE (the better reason) is seen.
            drainMessages();
            if (session_->hasSocket()) {
                // The server knows engines by their connection: a new one is a new engine.
                const bool was_connected = state_ == LinkState::Connected;
                endSession("the connection to the server was lost", false, true);
                if (was_connected) {
                    retry_delay_ms_ = options_.reconnect_delay_ms;
                }
                scheduleRetry(monotonicNowNs());
            }
        }
    }
    endSession("engine shutting down", true, false);
    session_.reset();
    state_ = LinkState::Stopped;
}

void EngineLink::drainMessages() {
    // Everything that is there now; a message may end the session, so re-check each time.
    for (int i = 0; i < 256 && session_->hasSocket(); ++i) {
        ReceivedMessage msg;
        std::string error;
        const ReceiveStatus status = session_->receive(0, msg, error);
        if (status == ReceiveStatus::Received) {
            dispatch(std::move(msg));
        } else if (status == ReceiveStatus::Unparsable) {
            log(LinkLogLevel::Warning, error);
        } else if (status == ReceiveStatus::Closed) {
            endSession(error, false, true);
            scheduleRetry(monotonicNowNs());
        } else {
            break;
        }
    }
}

int EngineLink::pollTimeoutMs(int64_t now_ns) const {
    int64_t wait_ns = static_cast<int64_t>(options_.max_poll_ms) * 1000000;
    const LinkState state = state_.load();
    if (state == LinkState::Idle) {
        wait_ns = std::min(wait_ns, next_attempt_ns_ - now_ns);
    } else if (state == LinkState::Connected) {
        wait_ns = std::min(wait_ns, session_->nsUntilHeartbeat(now_ns));
    }
    return static_cast<int>(std::max<int64_t>(0, wait_ns / 1000000));
}

void EngineLink::step(int64_t now_ns) {
    std::optional<std::vector<protocol::StreamDeclaration>> streams;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        streams.swap(new_streams_);
    }
    if (streams) {
        config_.streams = std::move(*streams);
        session_->setStreams(config_.streams);
        if (state_ != LinkState::Idle) {
            endSession("streams changed: starting a new session", true, true);
        }
        next_attempt_ns_ = now_ns;
        retry_delay_ms_ = options_.reconnect_delay_ms;
    }
    switch (state_.load()) {
        case LinkState::Idle:
            if (now_ns >= next_attempt_ns_) {
                startSession(now_ns);
            } else {
                sendFrames();  // counts the frames it has to skip while offline
            }
            break;
        case LinkState::Connecting:
            if (now_ns > welcome_deadline_ns_) {
                log(LinkLogLevel::Warning, "no WELCOME from " + config_.endpoint + " within " +
                                               std::to_string(options_.welcome_timeout_ms) + " ms; retrying");
                endSession("no WELCOME", false, false);
                scheduleRetry(now_ns);
            }
            sendFrames();
            break;
        case LinkState::Connected:
            sendControls();
            sendFrames();  // first: a frame the socket cannot take is skipped, a chunk waits
            sendAudio();
            session_->heartbeatIfIdle(now_ns);
            if (session_->serverSilent(now_ns)) {
                endSession("server silent for " + std::to_string(session_->msSinceHeard(now_ns)) + " ms", false, true);
                scheduleRetry(now_ns);
            }
            break;
        case LinkState::Stopped: break;
    }
}

void EngineLink::startSession(int64_t now_ns) {
    std::string error;
    if (!session_->begin(error)) {
        log(LinkLogLevel::Error, error);
        scheduleRetry(now_ns);
        return;
    }
    state_ = LinkState::Connecting;
    welcome_deadline_ns_ = now_ns + static_cast<int64_t>(options_.welcome_timeout_ms) * 1000000;
    log(LinkLogLevel::Verbose, "HELLO sent to " + config_.endpoint);
}

void EngineLink::scheduleRetry(int64_t now_ns) {
    next_attempt_ns_ = now_ns + static_cast<int64_t>(retry_delay_ms_) * 1000000;
    retry_delay_ms_ = std::min(retry_delay_ms_ * 2, options_.max_reconnect_delay_ms);
}

void EngineLink::endSession(const std::string& reason, bool send_bye, bool notify) {
    const bool was_connected = state_ == LinkState::Connected;
    if (session_ && session_->hasSocket()) {
        session_->close(send_bye, reason, options_.bye_linger_ms);
    }
    if (state_ != LinkState::Stopped) {
        state_ = LinkState::Idle;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        welcome_.reset();
        if (was_connected) {
            ++counters_.disconnects;
        }
        // Chunks of a session that ended are not sent to the next one.
        counters_.audio_chunks_dropped += audio_.size();
        audio_.clear();
    }
    failSentTakeRequests("the session ended (" + reason + ") before the answer");
    if (was_connected) {
        log(LinkLogLevel::Warning, "disconnected from " + config_.endpoint + ": " + reason);
        if (notify && callbacks_.on_disconnected) {
            callbacks_.on_disconnected(reason);
        }
    }
}

void EngineLink::sendFrames() {
    std::map<uint16_t, PendingFrame> frames;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        frames.swap(frames_);
    }
    if (frames.empty()) {
        return;
    }
    uint64_t sent = 0;
    uint64_t skipped = 0;
    for (auto& entry : frames) {
        if (state_ != LinkState::Connected) {
            ++skipped;
            continue;
        }
        std::string error;
        const SendStatus status = session_->sendFrame(entry.second.frame, false, entry.second.keep_alive, error);
        if (status == SendStatus::Sent) {
            ++sent;
        } else {
            ++skipped;
            if (status != SendStatus::QueueFull) {
                log(LinkLogLevel::Warning, error);
            }
        }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    counters_.frames_sent += sent;
    counters_.frames_skipped += skipped;
}

void EngineLink::sendAudio() {
    std::deque<PendingAudio> chunks;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        chunks.swap(audio_);
    }
    uint64_t sent = 0;
    uint64_t dropped = 0;
    while (!chunks.empty()) {
        const PendingAudio& pending = chunks.front();
        std::string error;
        const SendStatus status = session_->sendAudio(pending.chunk, false, pending.samples, error);
        if (status == SendStatus::QueueFull) {
            break;  // the socket is full: the rest waits for the next turn, in order
        }
        if (status == SendStatus::Sent) {
            ++sent;
        } else {
            ++dropped;
            log(LinkLogLevel::Warning, error);
        }
        chunks.pop_front();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    counters_.audio_chunks_sent += sent;
    counters_.audio_chunks_dropped += dropped;
    // Older chunks go back in front of any queued meanwhile.
    audio_.insert(audio_.begin(), std::make_move_iterator(chunks.begin()), std::make_move_iterator(chunks.end()));
}

void EngineLink::sendControls() {
    std::vector<PendingControl> controls;
    bool stats = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        controls.swap(controls_);
        std::swap(stats, stats_requested_);
    }
    for (PendingControl& pending : controls) {
        std::string error;
        if (pending.take_record) {
            // A take CONTROL goes to the lowest stream declared now, or to stream 0 when none is
            // (the server ignores its stream).
            const bool record = *pending.take_record;
            const uint64_t id = pending.control.request_id;
            pending.control.stream = session_->takeStream();
            const bool sent = session_->send(pending.control, true, nullptr, error) == SendStatus::Sent;
            bool failed = false;
            {
                std::lock_guard<std::mutex> lock(mutex_);
                auto request = take_requests_.find(id);
                if (request != take_requests_.end()) {
                    if (sent) {
                        request->second.sent = true;
                    } else {
                        take_requests_.erase(request);
                        failed = true;
                    }
                }
            }
            if (failed) {
                reportTake(protocol::failedTakeAck(id, record, std::string("take ") + (record ? "start" : "stop") +
                                                                   " not sent: " + error));
            }
            continue;
        }
        if (session_->send(pending.control, true, nullptr, error) != SendStatus::Sent) {
            log(LinkLogLevel::Warning, "CONTROL " + std::to_string(pending.control.request_id) + " not sent: " + error);
        }
    }
    if (stats) {
        std::string error;
        session_->send(protocol::Stats{}, true, nullptr, error);
    }
}

void EngineLink::replayControlState() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<PendingControl> replay;
    for (const auto& entry : control_state_) {
        if (entry.second.size() == 0) {
            continue;
        }
        protocol::Control control;
        control.request_id = next_request_id_++;
        control.stream = entry.first.first;
        control.stage = entry.first.second;
        control.params = entry.second;
        control_targets_[control.request_id] = entry.first;
        replay.push_back(PendingControl{std::move(control), true, std::nullopt});
    }
    // Remembered values first, then whatever was queued while offline (newer, so it wins).
    replay.insert(replay.end(), std::make_move_iterator(controls_.begin()), std::make_move_iterator(controls_.end()));
    controls_ = std::move(replay);
}

void EngineLink::followTakeState(const Message& message) {
    protocol::TakeState state;
    std::string error;
    const protocol::TakeStateNews news = protocol::takeStateFrom(message, state, error);
    if (news == protocol::TakeStateNews::Malformed) {
        // The state stays as it was; say why.
        log(LinkLogLevel::Warning, std::string("unreadable take state from the server (") + protocol::messageKind(message) + "): " + error);
        return;
    }
    if (news != protocol::TakeStateNews::Read) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (take_state_ && *take_state_ == state) {
            return;
        }
        take_state_ = state;
    }
    log(LinkLogLevel::Info, "server: " + state.describe());
    if (callbacks_.on_take_state) {
        callbacks_.on_take_state(state);
    }
}

void EngineLink::dispatch(ReceivedMessage&& msg) {
    Message& message = msg.message;
    if (const auto* welcome = std::get_if<protocol::Welcome>(&message)) {
        if (state_ != LinkState::Connecting) {
            log(LinkLogLevel::Warning, "unexpected WELCOME ignored");
            return;
        }
        state_ = LinkState::Connected;
        retry_delay_ms_ = options_.reconnect_delay_ms;
        bool reconnect = false;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            welcome_ = *welcome;
            reconnect = counters_.connects > 0;
            ++counters_.connects;
        }
        if (reconnect) {
            replayControlState();
        }
        log(LinkLogLevel::Info, "connected to " + welcome->server + " at " + config_.endpoint + " as " +
                                    welcome->engine_id);
        if (callbacks_.on_connected) {
            callbacks_.on_connected(*welcome);
        }
        return;
    }
    if (const auto* result = std::get_if<protocol::Result>(&message)) {
        const double rtt_ms = static_cast<double>(monotonicNowNs() - static_cast<int64_t>(result->t_capture_ns)) / 1e6;
        recordRtt(rtt_ms);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ++counters_.results;
            counters_.server_dropped += result->dropped;
        }
        if (callbacks_.on_result) {
            callbacks_.on_result(std::make_shared<const ReceivedMessage>(std::move(msg)));
        }
        return;
    }
    if (const auto* ack = std::get_if<protocol::ControlAck>(&message)) {
        std::optional<bool> take_record;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto take = take_requests_.find(ack->request_id);
            if (take != take_requests_.end()) {
                take_record = take->second.record;
                take_requests_.erase(take);
            }
        }
        if (take_record && callbacks_.on_take_ack) {
            protocol::TakeAck read;
            std::string error;
            if (!protocol::readTakeAck(*ack, *take_record, read, error)) {
                log(LinkLogLevel::Warning, "unreadable answer from the server: " + error);
                read = protocol::failedTakeAck(ack->request_id, *take_record, error);
            }
            reportTake(read);
            return;
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto target = control_targets_.find(ack->request_id);
            if (target != control_targets_.end()) {
                if (!ack->ok) {
                    control_state_.erase(target->second);  // do not replay values the server refused
                }
                control_targets_.erase(target);
            }
        }
        if (callbacks_.on_control_ack) {
            callbacks_.on_control_ack(*ack);
        }
        return;
    }
    if (const auto* error = std::get_if<protocol::Error>(&message)) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ++counters_.errors;
        }
        log(LinkLogLevel::Warning, "server error " + error->name + ": " + error->message);
        if (callbacks_.on_error) {
            callbacks_.on_error(*error);
        }
        if (state_ == LinkState::Connecting && (!error->ref_kind || *error->ref_kind == protocol::Hello::kKind)) {
            endSession("HELLO refused: " + error->message, false, false);
            scheduleRetry(monotonicNowNs());
        } else if (state_ == LinkState::Connected && error->code == static_cast<int64_t>(protocol::ErrorCode::NotWelcomed)) {
            // The server has no session for this connection any more: start a new one.
            endSession("the server no longer knows this engine (" + error->message + ")", false, true);
            retry_delay_ms_ = options_.reconnect_delay_ms;
            next_attempt_ns_ = monotonicNowNs();
        }
        return;
    }
    if (const auto* stats = std::get_if<protocol::Stats>(&message)) {
        if (callbacks_.on_stats) {
            callbacks_.on_stats(*stats);
        }
        return;
    }
    if (const auto* bye = std::get_if<protocol::Bye>(&message)) {
        // The session already forgot its WELCOME; state_ still says whether we were connected.
        endSession("server said BYE: " + bye->reason, false, true);
        scheduleRetry(monotonicNowNs());
        return;
    }
    if (std::holds_alternative<protocol::Mocap>(message)) {
        if (callbacks_.on_mocap) {
            callbacks_.on_mocap(std::make_shared<const ReceivedMessage>(std::move(msg)));
        }
        return;
    }
    if (const auto* event = std::get_if<protocol::SessionEvent>(&message)) {
        if (callbacks_.on_session_event) {
            callbacks_.on_session_event(*event);
        }
        followTakeState(message);
        return;
    }
    if (const auto* change = std::get_if<protocol::StateChange>(&message)) {
        if (callbacks_.on_state_change) {
            callbacks_.on_state_change(*change);
        }
        followTakeState(message);
        return;
    }
    if (std::holds_alternative<protocol::Heartbeat>(message)) {
        return;  // liveness only (the session noted the time)
    }
    log(LinkLogLevel::Warning, std::string("unexpected ") + protocol::messageKind(message) + " from the server ignored");
}

}  // namespace transport
}  // namespace mbridge
