// A C++ engine client built from the Unreal plugin's pure C++ code (Protocol/ and Transport/),
// run against the real Python server.
//
//   live_session_client session --endpoint E [--frames 100] [--size 512x512] [--pipeline default]
//                               [--control-stage stylize] [--control-param strength] [--control-value 0]
//       HELLO; FRAMEs one at a time, each RESULT checked (order, index, size, format); half way a
//       CONTROL (default: stylize strength 0) that must show in the output (before: output differs
//       from the input; after: output RGB equals input RGB); a rejected CONTROL; HEARTBEAT; STATS;
//       a MOCAP pose the server accepts; BYE (after which a FRAME gets NOT_WELCOMED).  Prints one
//       JSON object.
//
//   live_session_client latency --endpoint E [--raw-endpoint R] [--sizes 512x512,1920x1080]
//                               [--budget-s 4] [--iterations N] [--warmup 20]
//       Round trip send -> RESULT with one frame in flight over the passthrough pipeline, the
//       method of bridge/bench/transport.py (raw echo round trips interleaved when --raw-endpoint
//       is given).  Prints one JSON object with p50/p99 per size.
//
//   live_session_client shared --endpoint E
//       Two engines in one session: SESSION snapshot/join/leave, a MOCAP pose sent by one and
//       relayed to the other (Protocol/MocapPose encodes and decodes it), a STATE change.
//
//   live_session_client audio --endpoint E
//       Sound beside pictures (docs/protocol.md 6.14) on a stream declared with 48 kHz stereo audio.
//       Through the threaded EngineLink: 20 FRAMEs in lock step and, between them, a 440 Hz tone cut
//       into 20 ms AUDIO chunks by Protocol/AudioChunker; STATS as the sync point: no ERROR, every
//       chunk sent.  Through an EngineSession: three chunks, then a repeated index (BAD_FIELD naming
//       the last accepted chunk), a mono chunk on the stereo stream (PLANE_MISMATCH, ref_kind AUDIO)
//       and a FRAME whose RESULT still comes back.  Prints one JSON object.
//
//   live_session_client link --endpoint E [--size 64x48] [--frames 20] [--idle-ms 2500] [--restarts 1]
//       The threaded EngineLink the Unreal worker runs: connect, frames, idle on heartbeats only,
//       a rejected CONTROL, then `restarts` times: print {"event": "restart_server", "round": N},
//       wait for the link to notice the server is gone ({"event": "disconnected", ...}) and to
//       reconnect when a server is back ({"event": "reconnected", ...}), frames again; clean stop.
//       One JSON line per event on stdout.
//
//   live_session_client take --endpoint E --name NAME [--frames 12] [--stream 3]
//       Takes (docs/takes.md) from the threaded EngineLink the Unreal worker runs: a bad take name is
//       refused before anything is queued; a stop while nothing records is refused by the server; the
//       named take starts (its ack read: name, folder, timecode), `frames` FRAMEs go through in lock
//       step, a second start is refused (already recording), the take stops.  Then from an
//       EngineSession: starting a take of the same name is refused (the folder exists), a bad name
//       and a session without streams are refused locally, a stop is refused (nothing records).
//       Take acks must reach on_take_ack only.  Prints one JSON object.
//
//   live_session_client take-state --endpoint E
//       The server's take state (STATE "bridge.take") followed by threaded EngineLinks while the
//       caller, who owns the server, starts and stops a take itself (as the CLI or OSC would):
//       "first" (capability "session") joins before any take: its snapshot says no take, then it hears
//       the start and the stop; "late" joins another session after the start and finds the take in its
//       snapshot, then hears the stop; "deaf" (no "session") hears nothing.  One JSON line per take
//       state heard ({"event": "take_state", "link": ...}: the caller starts the take after first's
//       snapshot, stops it after late's), then {"event": "done", ...}.
//
// Exit status 0 when every check passed; otherwise 1 with "FAIL: ..." lines on stderr.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "Protocol/AudioPcm.h"
#include "Protocol/Messages.h"
#include "Protocol/MocapPose.h"
#include "Protocol/TakeControl.h"
#include "Transport/BridgeSocket.h"
#include "Transport/EngineLink.h"
#include "Transport/EngineSession.h"

using namespace mbridge;
using namespace mbridge::protocol;
using namespace mbridge::transport;

namespace {

int g_failures = 0;

void expect(bool ok, const std::string& what) {
    if (!ok) {
        ++g_failures;
        std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    }
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    std::exit(1);
}

struct Args {
    std::map<std::string, std::string> values;
    std::string get(const std::string& key, const std::string& fallback) const {
        auto it = values.find(key);
        return it == values.end() ? fallback : it->second;
    }
    double number(const std::string& key, double fallback) const {
        auto it = values.find(key);
        return it == values.end() ? fallback : std::atof(it->second.c_str());
    }
};

void parseSize(const std::string& text, uint32_t& width, uint32_t& height) {
    if (std::sscanf(text.c_str(), "%ux%u", &width, &height) != 2 || width == 0 || height == 0) {
        die("size '" + text + "' must look like 512x512");
    }
}

std::string jsonString(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string fmt(double value) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.4f", value);
    return buf;
}

// An RGBA8 picture that differs from frame to frame (so a RESULT can be matched to its FRAME).
std::shared_ptr<std::vector<uint8_t>> testPicture(uint32_t width, uint32_t height, uint64_t index) {
    auto pixels = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(width) * height * 4);
    uint8_t* p = pixels->data();
    for (uint32_t y = 0; y < height; ++y) {
        for (uint32_t x = 0; x < width; ++x) {
            p[0] = static_cast<uint8_t>(x + index * 3);
            p[1] = static_cast<uint8_t>(y * 2 + index);
            p[2] = static_cast<uint8_t>((x ^ y) + (x * y) / 64);
            p[3] = 255;
            p += 4;
        }
    }
    return pixels;
}

Frame rgbaFrame(uint16_t stream, uint64_t index, uint32_t width, uint32_t height, const std::vector<uint8_t>& pixels) {
    Frame frame;
    frame.stream = stream;
    frame.index = index;
    frame.t_capture_ns = static_cast<uint64_t>(monotonicNowNs());
    frame.planes.push_back(
        Plane{PlaneDescriptor::packed(PlaneKind::Color, PixelFormat::RGBA8, width, height), ByteView(pixels)});
    return frame;
}

// Mean absolute RGB difference between a RESULT colour plane (honouring its stride) and the
// packed RGBA input; `identical` is false when any RGB byte differs.
double meanAbsRgbDiff(const Plane& out, const std::vector<uint8_t>& input, uint32_t width, uint32_t height,
                      bool& identical) {
    identical = true;
    uint64_t total = 0;
    const uint32_t bpp = bytesPerPixel(out.descriptor.format);
    const bool bgr = out.descriptor.format == PixelFormat::BGRA8;
    for (uint32_t y = 0; y < height; ++y) {
        const uint8_t* row = out.data.data + static_cast<size_t>(y) * out.descriptor.stride;
        const uint8_t* in = input.data() + static_cast<size_t>(y) * width * 4;
        for (uint32_t x = 0; x < width; ++x) {
            for (int c = 0; c < 3; ++c) {
                const int got = row[x * bpp + static_cast<uint32_t>(bgr ? 2 - c : c)];
                const int want = in[x * 4 + static_cast<uint32_t>(c)];
                total += static_cast<uint64_t>(std::abs(got - want));
                identical = identical && got == want;
            }
        }
    }
    return static_cast<double>(total) / (static_cast<double>(width) * height * 3);
}

bool isResultFor(const Message& m, uint64_t index) {
    const auto* r = std::get_if<Result>(&m);
    return r != nullptr && r->index == index;
}

// ------------------------------------------------------------------------------ session mode

int runSession(const Args& args) {
    const std::string endpoint = args.get("endpoint", "tcp://127.0.0.1:5555");
    const auto frames = static_cast<uint64_t>(args.number("frames", 100));
    uint32_t width = 0;
    uint32_t height = 0;
    parseSize(args.get("size", "512x512"), width, height);
    const std::string pipeline = args.get("pipeline", "default");
    const std::string control_stage = args.get("control-stage", "stylize");
    const std::string control_param = args.get("control-param", "strength");
    const double control_value = args.number("control-value", 0.0);
    const int timeout_ms = static_cast<int>(args.number("timeout-s", 60) * 1000);

    zmq::context_t context(1);
    SessionConfig config;
    config.endpoint = endpoint;
    config.engine = "machinima-bridge C++ test client";
    config.client = "machinima-bridge-unreal/0.1.0 (live_session_client)";
    config.session = "cpp-live-session";
    StreamDeclaration decl;
    decl.id = 0;
    decl.name = "cpp-main";
    decl.width = width;
    decl.height = height;
    decl.pipeline = pipeline;
    config.streams.push_back(decl);
    EngineSession session(context, config);
    std::string error;
    if (!session.open(timeout_ms, error)) {
        die(error);
    }
    const Welcome welcome = *session.welcome();
    const StreamGrant* grant = welcome.grant(0);
    expect(grant != nullptr, "WELCOME has no grant for stream 0");
    const bool stage_known = grant && std::find(grant->stages.begin(), grant->stages.end(), control_stage) != grant->stages.end();
    expect(stage_known, "the grant's stages do not include '" + control_stage + "'");
    expect(grant && grant->width == width && grant->height == height && grant->color_format == "RGBA8",
           "grant is not " + std::to_string(width) + "x" + std::to_string(height) + " RGBA8");

    // HEARTBEAT is answered with HEARTBEAT.
    const int64_t hb_start = monotonicNowNs();
    Heartbeat beat;
    beat.t_ns = static_cast<uint64_t>(hb_start);
    session.send(beat, true, nullptr, error);
    ReceivedMessage reply;
    const bool heartbeat_ok = session.await(
        [](const Message& m) { return std::holds_alternative<Heartbeat>(m); }, 10000, reply, error);
    expect(heartbeat_ok, "no HEARTBEAT answer: " + error);
    const double heartbeat_rtt_ms = static_cast<double>(monotonicNowNs() - hb_start) / 1e6;

    uint64_t results = 0;
    uint64_t last_index = 0;
    bool in_order = true;
    bool sizes_ok = true;
    uint64_t dropped_total = 0;
    double diff_before = 0.0;
    uint64_t identical_before = 0;
    uint64_t identical_after = 0;
    double diff_after = 0.0;
    double rtt_total_ms = 0.0;
    uint64_t control_request = 0;
    bool control_ok = false;
    std::string applied;
    const uint64_t control_at = frames / 2;

    for (uint64_t i = 0; i < frames; ++i) {
        if (i == control_at) {
            MsgpackValue params = MsgpackValue::map();
            params.append(control_param, MsgpackValue::float64(control_value));
            control_request = session.sendControl(0, control_stage, params, std::nullopt, error);
            ReceivedMessage ack_msg;
            const bool acked = session.await(
                [&](const Message& m) {
                    const auto* a = std::get_if<ControlAck>(&m);
                    return a != nullptr && a->request_id == control_request;
                },
                timeout_ms, ack_msg, error, Control::kKind);
            expect(acked, "no CONTROL_ACK: " + error);
            if (acked) {
                const ControlAck& ack = std::get<ControlAck>(ack_msg.message);
                control_ok = ack.ok;
                applied = ack.applied.toDebugString();
                const MsgpackValue* value = ack.applied.find(control_param);
                double applied_value = -1.0;
                expect(ack.ok && value && value->toDouble(applied_value) && applied_value == control_value,
                       "CONTROL not applied as sent: ok=" + std::to_string(ack.ok) + " applied=" + applied +
                           (ack.reason ? " reason=" + *ack.reason : std::string()));
            }
        }
        auto pixels = testPicture(width, height, i);
        const Frame frame = rgbaFrame(0, i, width, height, *pixels);
        const SendStatus sent = session.sendFrame(frame, true, pixels, error);
        if (sent != SendStatus::Sent) {
            die("FRAME " + std::to_string(i) + " not sent: " + error);
        }
        ReceivedMessage msg;
        if (!session.await([&](const Message& m) { return std::holds_alternative<Result>(m); }, timeout_ms, msg,
                           error, Frame::kKind)) {
            die("no RESULT for FRAME " + std::to_string(i) + ": " + error);
        }
        const Result& result = std::get<Result>(msg.message);
        rtt_total_ms += static_cast<double>(monotonicNowNs() - static_cast<int64_t>(result.t_capture_ns)) / 1e6;
        in_order = in_order && result.index == i && (results == 0 || result.index > last_index) &&
                   result.t_capture_ns == frame.t_capture_ns && result.stream == 0;
        last_index = result.index;
        ++results;
        dropped_total += result.dropped;
        const Plane* color = result.plane(PlaneKind::Color);
        const bool size_ok = color != nullptr && color->descriptor.width == width &&
                             color->descriptor.height == height && color->descriptor.format == PixelFormat::RGBA8 &&
                             color->data.size == color->descriptor.stride * height &&
                             color->descriptor.stride >= static_cast<uint64_t>(width) * 4;
        sizes_ok = sizes_ok && size_ok;
        if (!size_ok) {
            continue;
        }
        bool identical = false;
        const double diff = meanAbsRgbDiff(*color, *pixels, width, height, identical);
        if (i < control_at) {
            diff_before += diff;
            identical_before += identical ? 1 : 0;
        } else {
            diff_after += diff;
            identical_after += identical ? 1 : 0;
        }
    }
    diff_before /= static_cast<double>(std::max<uint64_t>(1, control_at));
    diff_after /= static_cast<double>(std::max<uint64_t>(1, frames - control_at));
    expect(results == frames, std::to_string(results) + " RESULTs for " + std::to_string(frames) + " FRAMEs");
    expect(in_order, "RESULTs out of order or not matching their FRAMEs");
    expect(sizes_ok, "a RESULT colour plane has the wrong size, format or byte count");
    expect(dropped_total == 0, "the server dropped frames although one was in flight at a time");
    expect(identical_before == 0 && diff_before > 5.0,
           "before the CONTROL the output should differ from the input (mean |diff| " + fmt(diff_before) + ")");
    expect(identical_after == frames - control_at,
           "after the CONTROL " + std::to_string(identical_after) + "/" + std::to_string(frames - control_at) +
               " outputs equal their inputs (mean |diff| " + fmt(diff_after) + ")");

    // A CONTROL naming a parameter the stage lacks is rejected with UNKNOWN_PARAM.
    MsgpackValue bad = MsgpackValue::map();
    bad.append("no_such_param", MsgpackValue::integer(1));
    const uint64_t bad_request = session.sendControl(0, control_stage, bad, std::nullopt, error);
    ReceivedMessage bad_ack;
    int64_t rejected_code = 0;
    if (session.await([&](const Message& m) {
            const auto* a = std::get_if<ControlAck>(&m);
            return a != nullptr && a->request_id == bad_request;
        }, timeout_ms, bad_ack, error, Control::kKind)) {
        const ControlAck& ack = std::get<ControlAck>(bad_ack.message);
        rejected_code = ack.code.value_or(0);
        expect(!ack.ok && rejected_code == static_cast<int64_t>(ErrorCode::UnknownParam),
               "CONTROL of an unknown parameter: ok=" + std::to_string(ack.ok) + " code=" + std::to_string(rejected_code));
    } else {
        expect(false, "no CONTROL_ACK for the unknown parameter: " + error);
    }

    // STATS report covers the stream.
    session.send(Stats{}, true, nullptr, error);
    ReceivedMessage stats_msg;
    int64_t frames_in = -1;
    int64_t frames_out = -1;
    if (session.await([](const Message& m) { return std::holds_alternative<Stats>(m); }, timeout_ms, stats_msg, error,
                      Stats::kKind)) {
        const Stats& stats = std::get<Stats>(stats_msg.message);
        if (stats.streams && !stats.streams->empty()) {
            frames_in = stats.streams->front().frames_in;
            frames_out = stats.streams->front().frames_out;
        }
    }
    expect(frames_in >= static_cast<int64_t>(frames) && frames_out >= static_cast<int64_t>(frames),
           "STATS report frames_in=" + std::to_string(frames_in) + " frames_out=" + std::to_string(frames_out));

    // MOCAP: a pose encoded by Protocol/MocapPose (docs/protocol.md 6.11) is accepted by the
    // server's relay without an ERROR; a HEARTBEAT round trip afterwards is the sync point.
    MocapPose pose;
    pose.performer = "cpp-session-actor";
    pose.t_ns = 1700000000000000000LL;
    pose.source = "cpp-test";
    pose.bone_rotations = {{"Hips", {0.0, 0.0, 0.0, 1.0}}};
    std::vector<uint8_t> pose_part;
    session.send(encodeMocapPose(pose, pose_part), true, nullptr, error);
    Heartbeat sync;
    sync.t_ns = static_cast<uint64_t>(monotonicNowNs());
    session.send(sync, true, nullptr, error);
    std::string mocap_reply = "none";
    ReceivedMessage sync_reply;
    const bool synced = session.await(
        [&](const Message& m) {
            if (const auto* e = std::get_if<Error>(&m)) {
                if (e->ref_kind && *e->ref_kind == Mocap::kKind) {
                    mocap_reply = e->name + ": " + e->message;
                }
                return false;
            }
            return std::holds_alternative<Heartbeat>(m);
        },
        10000, sync_reply, error);
    expect(synced, "no HEARTBEAT after MOCAP: " + error);
    expect(mocap_reply == "none", "the server refused the MOCAP pose: " + mocap_reply);

    // BYE ends the session: a FRAME after it gets NOT_WELCOMED.
    Bye bye;
    bye.reason = "cpp client done";
    session.send(bye, true, nullptr, error);
    auto pixels = testPicture(width, height, frames);
    session.sendFrame(rgbaFrame(0, frames, width, height, *pixels), true, pixels, error);
    ReceivedMessage after_bye;
    std::string after_bye_name = "none";
    if (session.await([](const Message& m) { return std::holds_alternative<Error>(m) || std::holds_alternative<Result>(m); },
                      10000, after_bye, error)) {
        after_bye_name = std::holds_alternative<Error>(after_bye.message) ? std::get<Error>(after_bye.message).name : "RESULT";
    }
    expect(after_bye_name == "NOT_WELCOMED", "a FRAME after BYE got " + after_bye_name);
    session.close(false);

    std::printf(
        "{\"mode\": \"session\", \"endpoint\": %s, \"pipeline\": %s, \"stages\": %zu, \"frames_sent\": %llu, "
        "\"results\": %llu, \"in_order\": %s, \"sizes_ok\": %s, \"dropped\": %llu, \"mean_rtt_ms\": %s, "
        "\"heartbeat_rtt_ms\": %s, \"control\": {\"stage\": %s, \"param\": %s, \"value\": %s, \"ok\": %s, "
        "\"applied\": %s}, \"mean_abs_diff_before_control\": %s, \"mean_abs_diff_after_control\": %s, "
        "\"identical_after_control\": %llu, \"rejected_control_code\": %lld, \"stats_frames_in\": %lld, "
        "\"stats_frames_out\": %lld, \"mocap_reply\": %s, \"after_bye\": %s, \"ok\": %s}\n",
        jsonString(endpoint).c_str(), jsonString(pipeline).c_str(), grant ? grant->stages.size() : 0,
        static_cast<unsigned long long>(frames), static_cast<unsigned long long>(results), in_order ? "true" : "false",
        sizes_ok ? "true" : "false", static_cast<unsigned long long>(dropped_total),
        fmt(rtt_total_ms / static_cast<double>(std::max<uint64_t>(1, results))).c_str(), fmt(heartbeat_rtt_ms).c_str(),
        jsonString(control_stage).c_str(), jsonString(control_param).c_str(), fmt(control_value).c_str(),
        control_ok ? "true" : "false", jsonString(applied).c_str(), fmt(diff_before).c_str(), fmt(diff_after).c_str(),
        static_cast<unsigned long long>(identical_after), static_cast<long long>(rejected_code),
        static_cast<long long>(frames_in), static_cast<long long>(frames_out), jsonString(mocap_reply).c_str(),
        jsonString(after_bye_name).c_str(), g_failures == 0 ? "true" : "false");
    return g_failures == 0 ? 0 : 1;
}

// ------------------------------------------------------------------------------ latency mode

// numpy's default percentile (linear interpolation), as bridge/bench/transport.py reports.
double percentile(std::vector<double> values, double q) {
    std::sort(values.begin(), values.end());
    const double pos = q * static_cast<double>(values.size() - 1);
    const auto lo = static_cast<size_t>(pos);
    const size_t hi = std::min(lo + 1, values.size() - 1);
    return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

// bridge/bench/transport.py `_iterations_for`.
int iterationsFor(uint32_t width, uint32_t height, double budget_s) {
    const double mib = static_cast<double>(width) * height * 4 / (1024.0 * 1024.0);
    const double per_iter_s = 0.0004 + 0.0025 * mib;
    return static_cast<int>(std::max(30.0, std::min(400.0, budget_s / per_iter_s)));
}

int runLatency(const Args& args) {
    const std::string endpoint = args.get("endpoint", "tcp://127.0.0.1:5555");
    const std::string raw_endpoint = args.get("raw-endpoint", "");
    const double budget_s = args.number("budget-s", 4.0);
    const int fixed_iterations = static_cast<int>(args.number("iterations", 0));
    const int warmup = static_cast<int>(args.number("warmup", 20));
    std::vector<std::pair<uint32_t, uint32_t>> sizes;
    std::stringstream list(args.get("sizes", "512x512,1920x1080"));
    for (std::string item; std::getline(list, item, ',');) {
        uint32_t w = 0;
        uint32_t h = 0;
        parseSize(item, w, h);
        sizes.emplace_back(w, h);
    }
    zmq::context_t context(1);
    std::unique_ptr<BridgeSocket> raw;
    std::string error;
    if (!raw_endpoint.empty()) {
        raw = BridgeSocket::connect(context, raw_endpoint, BridgeSocket::Options{}, error);
        if (!raw) {
            die(error);
        }
    }
    std::string out = "{\"mode\": \"latency\", \"client\": \"cpp\", \"results\": [";
    for (size_t s = 0; s < sizes.size(); ++s) {
        const uint32_t width = sizes[s].first;
        const uint32_t height = sizes[s].second;
        SessionConfig config;
        config.endpoint = endpoint;
        config.engine = "bench-transport-cpp";
        StreamDeclaration decl;
        decl.name = "bench";
        decl.width = width;
        decl.height = height;
        decl.pipeline = "passthrough";
        config.streams.push_back(decl);
        EngineSession session(context, config);
        if (!session.open(30000, error)) {
            die(error);
        }
        // Random pixels, the same for every frame (as the Python benchmark sends).
        auto pixels = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(width) * height * 4);
        std::mt19937 rng(0);
        for (auto& b : *pixels) {
            b = static_cast<uint8_t>(rng() % 255);
        }
        const int n = fixed_iterations > 0 ? fixed_iterations : iterationsFor(width, height, budget_s);
        std::vector<double> bridge_ms;
        std::vector<double> raw_ms;
        Frame raw_frame = rgbaFrame(0, 0, width, height, *pixels);
        raw_frame.t_capture_ns = 0;
        for (int i = 0; i < warmup + n; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            if (raw) {
                if (raw->send(raw_frame, true, pixels, error) != SendStatus::Sent) {
                    die("raw echo send failed: " + error);
                }
                ReceivedMessage echoed;
                if (raw->receive(10000, echoed, error) != ReceiveStatus::Received) {
                    die("no raw echo within 10 s: " + error);
                }
            }
            const auto t1 = std::chrono::steady_clock::now();
            const Frame frame = rgbaFrame(0, static_cast<uint64_t>(i), width, height, *pixels);
            if (session.sendFrame(frame, true, pixels, error) != SendStatus::Sent) {
                die("FRAME not sent: " + error);
            }
            ReceivedMessage msg;
            if (!session.await([&](const Message& m) { return isResultFor(m, static_cast<uint64_t>(i)); }, 10000, msg,
                               error, Frame::kKind)) {
                die("no RESULT for frame " + std::to_string(i) + " at " + std::to_string(width) + "x" +
                    std::to_string(height) + " within 10 s: " + error);
            }
            const auto t2 = std::chrono::steady_clock::now();
            if (i >= warmup) {
                raw_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
                bridge_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
            }
        }
        session.close(true, "bench done");
        out += std::string(s ? ", " : "") + "{\"width\": " + std::to_string(width) + ", \"height\": " +
               std::to_string(height) + ", \"rtt_ms_p50\": " + fmt(percentile(bridge_ms, 0.5)) +
               ", \"rtt_ms_p99\": " + fmt(percentile(bridge_ms, 0.99)) + ", \"iterations\": " + std::to_string(n);
        if (raw) {
            out += ", \"raw_rtt_ms_p50\": " + fmt(percentile(raw_ms, 0.5)) + ", \"raw_rtt_ms_p99\": " +
                   fmt(percentile(raw_ms, 0.99));
        }
        out += "}";
    }
    std::printf("%s]}\n", out.c_str());
    return 0;
}

// ------------------------------------------------------------------------------ shared mode

// Two engines in one session: SESSION snapshot/join/leave, a MOCAP pose relayed from one to the
// other (encoded and decoded by Protocol/MocapPose), a STATE change confirmed to both.
int runShared(const Args& args) {
    const std::string endpoint = args.get("endpoint", "tcp://127.0.0.1:5555");
    const int timeout_ms = static_cast<int>(args.number("timeout-s", 30) * 1000);
    zmq::context_t context(1);
    auto configFor = [&](const char* engine, std::vector<std::string> capabilities) {
        SessionConfig config;
        config.endpoint = endpoint;
        config.engine = engine;
        config.session = "cpp-shared";
        config.capabilities = std::move(capabilities);
        return config;
    };
    EngineSession receiver(context, configFor("cpp-receiver", {"mocap", "session"}));
    EngineSession sender(context, configFor("cpp-sender", {"session"}));
    std::string error;
    if (!receiver.open(timeout_ms, error)) {
        die(error);
    }
    auto awaitSession = [&](EngineSession& session, const std::string& event, ReceivedMessage& out) {
        return session.await([&](const Message& m) {
            const auto* e = std::get_if<SessionEvent>(&m);
            return e != nullptr && e->event == event;
        }, timeout_ms, out, error);
    };
    ReceivedMessage msg;
    expect(awaitSession(receiver, "snapshot", msg) &&
               std::get<SessionEvent>(msg.message).engine_id == receiver.welcome()->engine_id,
           "the receiver gets a SESSION snapshot naming itself: " + error);
    if (!sender.open(timeout_ms, error)) {
        die(error);
    }
    const std::string sender_id = sender.welcome()->engine_id;
    expect(awaitSession(receiver, "join", msg) && std::get<SessionEvent>(msg.message).engine_id == sender_id,
           "the receiver gets SESSION join for the sender: " + error);

    MocapPose pose;
    pose.performer = "cpp-actor";
    pose.t_ns = 1700000000000000000LL;
    pose.source = "cpp-test";
    pose.root_position_m = {0.5, 0.0, -1.0};
    pose.bone_rotations = {{"Hips", {0.0, 0.0, 0.0, 1.0}}, {"LeftUpperArm", {0.0, 0.0, 0.38268343, 0.92387953}}};
    pose.bone_positions_m = {{"Hips", {0.0, 0.95, 0.0}}};
    pose.blendshapes = {{"jawOpen", 0.25}};
    std::vector<uint8_t> pose_part;
    sender.send(encodeMocapPose(pose, pose_part), true, nullptr, error);
    bool pose_ok = false;
    if (receiver.await([](const Message& m) { return std::holds_alternative<Mocap>(m); }, timeout_ms, msg, error)) {
        MocapPose got;
        ProtocolError decode_error;
        pose_ok = decodeMocapPose(std::get<Mocap>(msg.message), got, decode_error) && got.performer == pose.performer &&
                  got.bone_rotations.size() == 2 && std::fabs(got.bone_rotations[1].second[2] - 0.38268343) < 1e-6 &&
                  got.blendshapes.size() == 1 && std::fabs(got.blendshapes[0].second - 0.25) < 1e-7 &&
                  got.t_ns == pose.t_ns;
        expect(pose_ok, "relayed MOCAP pose differs: " + decode_error.describe());
    } else {
        expect(false, "the receiver got no MOCAP: " + error);
    }

    StateChange change;
    change.key = "scene.cue";
    MsgpackValue value = MsgpackValue::map();
    value.append("act", MsgpackValue::integer(2));
    value.append("cue", MsgpackValue::str("door-opens"));
    change.value = value;
    sender.send(change, true, nullptr, error);
    uint64_t version = 0;
    for (EngineSession* session : {&sender, &receiver}) {
        const bool got = session->await([](const Message& m) { return std::holds_alternative<StateChange>(m); },
                                        timeout_ms, msg, error);
        const StateChange* applied = got ? std::get_if<StateChange>(&msg.message) : nullptr;
        expect(applied && applied->key == "scene.cue" && applied->value == value && applied->by == sender_id &&
                   applied->version.value_or(0) >= 1,
               "STATE as applied reaches every session engine: " + error);
        version = applied ? applied->version.value_or(0) : 0;
    }

    sender.close(true, "cpp sender done");
    std::string leave_reason;
    if (awaitSession(receiver, "leave", msg)) {
        leave_reason = std::get<SessionEvent>(msg.message).reason.value_or("");
    }
    expect(leave_reason == "bye", "SESSION leave after the sender's BYE, reason '" + leave_reason + "'");
    receiver.close(true, "cpp receiver done");
    std::printf("{\"mode\": \"shared\", \"pose_relayed\": %s, \"state_version\": %llu, \"leave_reason\": %s, "
                "\"ok\": %s}\n",
                pose_ok ? "true" : "false", static_cast<unsigned long long>(version), jsonString(leave_reason).c_str(),
                g_failures == 0 ? "true" : "false");
    return g_failures == 0 ? 0 : 1;
}

// ------------------------------------------------------------------------------ link mode

class LinkProbe {
public:
    void event(const std::string& json) {
        std::printf("%s\n", json.c_str());
        std::fflush(stdout);
    }
    std::mutex mutex;
    std::condition_variable changed;
    int connects = 0;
    int disconnects = 0;
    std::string last_disconnect;
    std::vector<uint64_t> result_indices;
    std::vector<ControlAck> acks;

    template <typename Pred>
    bool waitFor(int timeout_ms, Pred pred) {
        std::unique_lock<std::mutex> lock(mutex);
        return changed.wait_for(lock, std::chrono::milliseconds(timeout_ms), pred);
    }
};

// ------------------------------------------------------------------------------ audio mode

constexpr uint32_t kAudioRateHz = 48000;
constexpr uint32_t kAudioChannels = 2;

StreamDeclaration audioStream() {
    StreamDeclaration decl;
    decl.id = 0;
    decl.name = "cpp-audio-cam";
    decl.width = 64;
    decl.height = 48;
    decl.fps = 25.0;
    decl.pipeline = "passthrough";
    decl.audio = AudioFormat{kAudioRateHz, kAudioChannels};
    return decl;
}

// `frames` interleaved frames of constant samples (left, right).
std::shared_ptr<std::vector<uint8_t>> constantPcm(uint32_t frames, uint32_t channels, int16_t left, int16_t right) {
    auto pcm = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(frames) * channels * 2);
    for (size_t i = 0; i < static_cast<size_t>(frames) * channels; ++i) {
        const auto bits = static_cast<uint16_t>(i % 2 == 0 ? left : right);
        (*pcm)[2 * i] = static_cast<uint8_t>(bits & 0xffu);
        (*pcm)[2 * i + 1] = static_cast<uint8_t>(bits >> 8);
    }
    return pcm;
}

int runAudio(const Args& args) {
    const std::string endpoint = args.get("endpoint", "tcp://127.0.0.1:5555");
    const int timeout_ms = static_cast<int>(args.number("timeout-s", 30) * 1000);
    const uint64_t frames = 20;

    // ---- EngineLink: frames and chunked sound together, nothing blocking the producer
    SessionConfig config;
    config.endpoint = endpoint;
    config.engine = "machinima-bridge C++ audio test";
    config.session = "cpp-audio";
    config.capabilities = {"audio"};
    config.streams.push_back(audioStream());
    LinkProbe probe;
    std::vector<std::string> errors;
    bool stats_seen = false;
    LinkCallbacks callbacks;
    callbacks.on_connected = [&](const Welcome&) {
        std::lock_guard<std::mutex> lock(probe.mutex);
        ++probe.connects;
        probe.changed.notify_all();
    };
    callbacks.on_result = [&](std::shared_ptr<const ReceivedMessage> msg) {
        std::lock_guard<std::mutex> lock(probe.mutex);
        probe.result_indices.push_back(std::get<Result>(msg->message).index);
        probe.changed.notify_all();
    };
    callbacks.on_error = [&](const Error& error) {
        std::lock_guard<std::mutex> lock(probe.mutex);
        errors.push_back(error.name + ": " + error.message);
        probe.changed.notify_all();
    };
    callbacks.on_stats = [&](const Stats& stats) {
        std::lock_guard<std::mutex> lock(probe.mutex);
        stats_seen = stats.streams.has_value();
        probe.changed.notify_all();
    };
    callbacks.on_log = [](LinkLogLevel level, const std::string& message) {
        if (level >= LinkLogLevel::Warning) {
            std::fprintf(stderr, "link: %s\n", message.c_str());
        }
    };
    EngineLink link(config, LinkOptions{}, callbacks);
    std::thread worker([&] { link.run(); });
    expect(probe.waitFor(timeout_ms, [&] { return probe.connects >= 1; }), "EngineLink did not connect");

    std::vector<int64_t> indices;
    std::string refusal;
    AudioChunker chunker(kAudioRateHz, kAudioChannels, audioSamplesFor(kAudioRateHz, 20.0),
                         [&](uint64_t t, std::vector<uint8_t>&& pcm, uint32_t) {
                             indices.push_back(link.submitAudio(0, t, std::move(pcm), kAudioRateHz, kAudioChannels, &refusal));
                         });
    double phase = 0.0;
    for (uint64_t i = 0; i < frames; ++i) {
        auto pixels = testPicture(64, 48, i);
        link.submitFrame(rgbaFrame(0, i, 64, 48, *pixels), pixels);
        for (int block = 0; block < 2; ++block) {  // 40 ms of mono tone per frame, as two callbacks
            std::vector<float> tone(960);
            for (float& v : tone) {
                v = static_cast<float>(0.5 * std::sin(phase));
                phase += 2.0 * 3.14159265358979 * 440.0 / kAudioRateHz;
            }
            chunker.write(tone.data(), tone.size(), 1, monotonicNowNs());
        }
        expect(probe.waitFor(timeout_ms, [&] { return probe.result_indices.size() > i; }),
               "no RESULT for frame " + std::to_string(i) + " beside the sound");
    }
    chunker.flush();
    bool consecutive = !indices.empty();
    for (size_t i = 0; i < indices.size(); ++i) {
        consecutive = consecutive && indices[i] == static_cast<int64_t>(i);
    }
    expect(consecutive, "chunk indices 0, 1, 2, ... (refused: " + refusal + ")");
    // A chunk the declaration does not allow is refused at once, naming the cause.
    std::string mono_refusal;
    const int64_t mono_index = link.submitAudio(0, static_cast<uint64_t>(monotonicNowNs()), std::vector<uint8_t>(960), kAudioRateHz,
                                                1, &mono_refusal);
    expect(mono_index == -1 && mono_refusal.find("declared 48000 Hz x 2") != std::string::npos,
           "a mono chunk on the stereo stream is refused locally: " + mono_refusal);
    const bool all_sent = probe.waitFor(timeout_ms, [&] { return link.counters().audio_chunks_sent == indices.size(); });
    expect(all_sent, "every chunk left the queue");
    link.requestStats();  // the server answers after handling every chunk sent before
    expect(probe.waitFor(timeout_ms, [&] { return stats_seen; }), "no STATS after the chunks");
    const LinkCounters link_counters = link.counters();
    std::vector<std::string> link_errors;
    {
        std::lock_guard<std::mutex> lock(probe.mutex);
        link_errors = errors;
    }
    expect(link_errors.empty(), "the server refused something: " + (link_errors.empty() ? "" : link_errors[0]));
    link.requestStop();
    worker.join();

    // ---- EngineSession: the server's checks of a chunk
    zmq::context_t context(1);
    EngineSession session(context, config);
    std::string error;
    if (!session.open(timeout_ms, error)) {
        die(error);
    }
    auto good = constantPcm(480, kAudioChannels, 1000, -1000);
    for (uint64_t i = 0; i < 3; ++i) {
        Audio chunk;
        chunk.stream = 0;
        chunk.index = i;
        chunk.t_capture_ns = static_cast<uint64_t>(monotonicNowNs());
        chunk.sample_rate_hz = kAudioRateHz;
        chunk.channels = kAudioChannels;
        chunk.samples = 480;
        chunk.pcm = ByteView(*good);
        expect(session.sendAudio(chunk, true, good, error) == SendStatus::Sent, "AUDIO not sent: " + error);
    }
    auto awaitAudioError = [&](const char* what) {
        ReceivedMessage msg;
        const bool got = session.await(
            [](const Message& m) {
                const auto* e = std::get_if<Error>(&m);
                return e != nullptr && e->ref_kind && *e->ref_kind == Audio::kKind;
            },
            timeout_ms, msg, error);
        expect(got, std::string("no ERROR for ") + what + ": " + error);
        return got ? std::get<Error>(msg.message) : Error{};
    };
    Audio repeated;
    repeated.stream = 0;
    repeated.index = 2;
    repeated.t_capture_ns = static_cast<uint64_t>(monotonicNowNs());
    repeated.sample_rate_hz = kAudioRateHz;
    repeated.channels = kAudioChannels;
    repeated.samples = 480;
    repeated.pcm = ByteView(*good);
    session.send(repeated, true, good, error);
    const Error repeated_error = awaitAudioError("a repeated index");
    auto mono = constantPcm(480, 1, 0, 0);
    Audio wrong = repeated;
    wrong.index = 3;
    wrong.channels = 1;
    wrong.pcm = ByteView(*mono);
    std::string local;
    expect(session.sendAudio(wrong, true, mono, local) == SendStatus::Rejected, "sendAudio checks the declaration");
    session.send(wrong, true, mono, error);  // past the local check, to the server's
    const Error wrong_error = awaitAudioError("a mono chunk on the stereo stream");
    auto pixels = testPicture(64, 48, 0);
    session.sendFrame(rgbaFrame(0, 0, 64, 48, *pixels), true, pixels, error);
    ReceivedMessage result;
    const bool frames_flow = session.await([](const Message& m) { return std::holds_alternative<Result>(m); },
                                           timeout_ms, result, error, Frame::kKind);
    expect(frames_flow, "no RESULT after the refused chunks: " + error);
    session.close(true, "cpp audio test done");

    std::printf(
        "{\"mode\": \"audio\", \"link\": {\"frames\": %llu, \"results\": %zu, \"chunks\": %zu, "
        "\"indices_consecutive\": %s, \"chunks_sent\": %llu, \"chunks_dropped\": %llu, \"chunks_submitted\": %llu, "
        "\"errors\": %zu, \"chunk_samples\": %u, \"local_refusal\": %s}, "
        "\"repeated\": {\"name\": %s, \"stream\": %lld, \"index\": %lld, \"message\": %s}, "
        "\"wrong_channels\": {\"name\": %s, \"ref_kind\": %s, \"stream\": %lld, \"index\": %lld, \"message\": %s, "
        "\"local\": %s}, \"frames_after\": %s, \"ok\": %s}\n",
        static_cast<unsigned long long>(frames), probe.result_indices.size(), indices.size(), consecutive ? "true" : "false",
        static_cast<unsigned long long>(link_counters.audio_chunks_sent),
        static_cast<unsigned long long>(link_counters.audio_chunks_dropped),
        static_cast<unsigned long long>(link_counters.audio_chunks_submitted), link_errors.size(), chunker.chunkSamples(),
        jsonString(mono_refusal).c_str(), jsonString(repeated_error.name).c_str(),
        static_cast<long long>(repeated_error.stream.value_or(-1)), static_cast<long long>(repeated_error.index.value_or(-1)),
        jsonString(repeated_error.message).c_str(), jsonString(wrong_error.name).c_str(),
        jsonString(wrong_error.ref_kind.value_or("")).c_str(), static_cast<long long>(wrong_error.stream.value_or(-1)),
        static_cast<long long>(wrong_error.index.value_or(-1)), jsonString(wrong_error.message).c_str(),
        jsonString(local).c_str(), frames_flow ? "true" : "false", g_failures == 0 ? "true" : "false");
    return g_failures == 0 ? 0 : 1;
}

// ------------------------------------------------------------------------------ take-state mode

// One threaded EngineLink and the take states it reports, printed as they come.
class TakeStateWatcher {
public:
    TakeStateWatcher(const std::string& label, const std::string& endpoint, const std::string& session, bool listen)
        : label_(label) {
        SessionConfig config;
        config.endpoint = endpoint;
        config.engine = "machinima-bridge C++ take-state test (" + label + ")";
        config.session = session;
        if (listen) {
            config.capabilities.push_back(kSessionCapability);
        }
        LinkOptions options;
        options.reconnect_delay_ms = 300;
        LinkCallbacks callbacks;
        callbacks.on_connected = [this](const Welcome&) {
            std::lock_guard<std::mutex> lock(mutex_);
            ++connects_;
            changed_.notify_all();
        };
        callbacks.on_take_state = [this](const TakeState& state) {
            std::lock_guard<std::mutex> lock(mutex_);
            heard_.push_back(state);
            changed_.notify_all();
        };
        callbacks.on_log = [label](LinkLogLevel level, const std::string& message) {
            if (level >= LinkLogLevel::Info) {
                std::fprintf(stderr, "link %s: %s\n", label.c_str(), message.c_str());
            }
        };
        link_ = std::make_unique<EngineLink>(config, options, callbacks);
        worker_ = std::thread([this] { link_->run(); });
    }
    ~TakeStateWatcher() { stop(); }

    void stop() {
        if (worker_.joinable()) {
            link_->requestStop();
            worker_.join();
        }
    }

    bool waitConnected(int timeout_ms) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return connects_ > 0; });
    }

    // The next take state this link reported (printed), or nullopt after timeout_ms.
    std::optional<TakeState> next(int timeout_ms) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return !heard_.empty(); })) {
            return std::nullopt;
        }
        TakeState state = heard_.front();
        heard_.pop_front();
        lock.unlock();
        std::printf("{\"event\": \"take_state\", \"link\": %s, \"recording\": %s, \"take\": %s, \"timecode\": %s, "
                    "\"status\": %s, \"text\": %s}\n",
                    jsonString(label_).c_str(), state.recording ? "true" : "false",
                    state.take.empty() ? "null" : jsonString(state.take).c_str(), optionalJson(state.timecode).c_str(),
                    optionalJson(state.status).c_str(), jsonString(state.describe()).c_str());
        std::fflush(stdout);
        return state;
    }

    EngineLink& link() { return *link_; }

private:
    static std::string optionalJson(const std::optional<std::string>& text) { return text ? jsonString(*text) : "null"; }

    std::string label_;
    std::mutex mutex_;
    std::condition_variable changed_;
    int connects_ = 0;
    std::deque<TakeState> heard_;
    std::unique_ptr<EngineLink> link_;
    std::thread worker_;
};

int runTakeState(const Args& args) {
    const std::string endpoint = args.get("endpoint", "tcp://127.0.0.1:5555");
    const int timeout_ms = 30000;
    auto require = [](const std::optional<TakeState>& state, const std::string& what) -> TakeState {
        if (!state) {
            die("no take state heard (" + what + ") within 30 s");
        }
        return *state;
    };

    TakeStateWatcher first("first", endpoint, "cpp-stage", true);
    expect(first.waitConnected(timeout_ms), "first did not connect within 30 s");
    const TakeState before = require(first.next(timeout_ms), "first: the snapshot");
    expect(before == TakeState(), "the snapshot before any take says no take, not " + before.describe());
    const TakeState started = require(first.next(timeout_ms), "first: the start");
    expect(started.recording && !started.take.empty(), "the take started: " + started.describe());

    TakeStateWatcher late("late", endpoint, "cpp-late-stage", true);
    TakeStateWatcher deaf("deaf", endpoint, "cpp-stage", false);
    expect(late.waitConnected(timeout_ms) && deaf.waitConnected(timeout_ms), "late and deaf did not connect within 30 s");
    const TakeState joined = require(late.next(timeout_ms), "late: the snapshot during the take");
    expect(joined == started, "the late snapshot holds the recording take: " + joined.describe());
    const TakeState stopped = require(first.next(timeout_ms), "first: the stop");
    const TakeState late_stopped = require(late.next(timeout_ms), "late: the stop");
    expect(!stopped.recording && stopped.take == started.take, "the take stopped: " + stopped.describe());
    expect(late_stopped == stopped, "both links heard the same stop");
    // Nothing more: one report per change.
    const bool more = first.next(300).has_value() || late.next(0).has_value();
    const std::optional<TakeState> deaf_state = deaf.link().takeState();
    const std::optional<TakeState> first_state = first.link().takeState();
    expect(!more, "a take state was reported twice");
    expect(!deaf_state, "a link without \"session\" heard a take state");
    expect(first_state && *first_state == stopped, "takeState() is the last state reported");
    deaf.stop();
    late.stop();
    first.stop();
    std::printf("{\"event\": \"done\", \"first\": %s, \"late\": %s, \"deaf_state\": %s, \"more_states\": %s, \"ok\": %s}\n",
                first_state ? jsonString(first_state->describe()).c_str() : "null",
                late.link().takeState() ? jsonString(late.link().takeState()->describe()).c_str() : "null",
                deaf_state ? jsonString(deaf_state->describe()).c_str() : "null", more ? "true" : "false",
                g_failures == 0 ? "true" : "false");
    std::fflush(stdout);
    return g_failures == 0 ? 0 : 1;
}

// ------------------------------------------------------------------------------ take mode

std::string takeAckJson(const TakeAck& ack) {
    return "{\"request_id\": " + std::to_string(ack.request_id) + ", \"ok\": " + (ack.ok ? "true" : "false") +
           ", \"record\": " + (ack.record ? "true" : "false") + ", \"take\": " + jsonString(ack.take) +
           ", \"path\": " + jsonString(ack.path) + ", \"timecode\": " + jsonString(ack.timecode.value_or("")) +
           ", \"status\": " + jsonString(ack.status.value_or("")) + ", \"code\": " + std::to_string(ack.code.value_or(-1)) +
           ", \"reason\": " + jsonString(ack.reason) + ", \"text\": " + jsonString(ack.describe()) + "}";
}

int runTake(const Args& args) {
    const std::string endpoint = args.get("endpoint", "tcp://127.0.0.1:5555");
    const std::string name = args.get("name", "cpp-take");
    const auto frames = static_cast<uint64_t>(args.number("frames", 12));
    const auto stream = static_cast<uint16_t>(args.number("stream", 3));
    const int timeout_ms = 15000;
    SessionConfig config;
    config.endpoint = endpoint;
    config.engine = "machinima-bridge C++ take test";
    config.session = "cpp-takes";
    StreamDeclaration decl;
    decl.id = stream;
    decl.name = "take-cam";
    decl.width = 64;
    decl.height = 48;
    decl.pipeline = "passthrough";
    config.streams.push_back(decl);
    LinkOptions options;
    options.reconnect_delay_ms = 300;

    LinkProbe probe;
    std::vector<TakeAck> take_acks;
    size_t control_acks = 0;
    LinkCallbacks callbacks;
    callbacks.on_connected = [&](const Welcome&) {
        std::lock_guard<std::mutex> lock(probe.mutex);
        ++probe.connects;
        probe.changed.notify_all();
    };
    callbacks.on_result = [&](std::shared_ptr<const ReceivedMessage> msg) {
        const Result& result = std::get<Result>(msg->message);
        std::lock_guard<std::mutex> lock(probe.mutex);
        if (result.stream == stream) {
            probe.result_indices.push_back(result.index);
        }
        probe.changed.notify_all();
    };
    callbacks.on_control_ack = [&](const ControlAck&) {
        std::lock_guard<std::mutex> lock(probe.mutex);
        ++control_acks;
    };
    callbacks.on_take_ack = [&](const TakeAck& ack) {
        std::lock_guard<std::mutex> lock(probe.mutex);
        take_acks.push_back(ack);
        probe.changed.notify_all();
    };
    callbacks.on_log = [](LinkLogLevel level, const std::string& message) {
        if (level >= LinkLogLevel::Info) {
            std::fprintf(stderr, "link: %s\n", message.c_str());
        }
    };
    EngineLink link(config, options, callbacks);

    // A bad name never reaches the queue.
    std::string bad_name_error;
    const uint64_t bad_request = link.startTake("scene 4/take", &bad_name_error);
    expect(bad_request == 0 && !bad_name_error.empty(), "a take name with ' ' and '/' is refused locally");

    std::thread worker([&] { link.run(); });
    expect(probe.waitFor(30000, [&] { return probe.connects >= 1; }), "EngineLink did not connect within 30 s");
    auto awaitTake = [&](uint64_t request, const char* what) {
        TakeAck found;
        const bool got = probe.waitFor(timeout_ms, [&] {
            for (const TakeAck& ack : take_acks) {
                if (ack.request_id == request) {
                    found = ack;
                    return true;
                }
            }
            return false;
        });
        expect(got, std::string("no answer to the take ") + what + " (request " + std::to_string(request) + ")");
        if (!got) {
            found = failedTakeAck(request, false, "no answer");
        }
        return found;
    };

    const TakeAck stop_idle = awaitTake(link.stopTake(), "stop while idle");
    const TakeAck started = awaitTake(link.startTake(name), "start");
    expect(started.ok && started.take == name, "the take started: " + started.describe());
    for (uint64_t i = 0; i < frames; ++i) {
        auto pixels = testPicture(64, 48, i);
        link.submitFrame(rgbaFrame(stream, i, 64, 48, *pixels), pixels);
        const size_t want = static_cast<size_t>(i) + 1;
        expect(probe.waitFor(timeout_ms, [&] { return probe.result_indices.size() >= want; }),
               "no RESULT for frame " + std::to_string(i) + " during the take");
    }
    size_t results = 0;
    {
        std::lock_guard<std::mutex> lock(probe.mutex);
        results = probe.result_indices.size();
    }
    const TakeAck twice = awaitTake(link.startTake(name + "-again"), "second start");
    const TakeAck stopped = awaitTake(link.stopTake(), "stop");
    expect(stopped.ok && stopped.take == name, "the take stopped: " + stopped.describe());
    link.requestStop();
    worker.join();

    // EngineSession: the synchronous API the test client and tools use.
    zmq::context_t context(1);
    SessionConfig session_config = config;
    session_config.engine = "machinima-bridge C++ take session";
    EngineSession session(context, session_config);
    std::string error;
    if (!session.open(timeout_ms, error)) {
        die(error);
    }
    auto awaitTakeOn = [&](EngineSession& on, uint64_t request, bool record, const char* what) {
        ReceivedMessage msg;
        TakeAck read = failedTakeAck(request, record, "no answer");
        std::string await_error;
        const bool got = request != 0 && on.await(
            [&](const Message& m) {
                const auto* a = std::get_if<ControlAck>(&m);
                return a != nullptr && a->request_id == request;
            },
            timeout_ms, msg, await_error, Control::kKind);
        expect(got, std::string("no CONTROL_ACK for the take ") + what + ": " + await_error);
        if (got) {
            std::string read_error;
            expect(readTakeAck(std::get<ControlAck>(msg.message), record, read, read_error), read_error);
        }
        return read;
    };
    const TakeAck same_name = awaitTakeOn(session, session.startTake(name, error), true, "start with a used name");
    std::string session_bad_name;
    const uint64_t session_bad = session.startTake("-dash-first", session_bad_name);
    const TakeAck session_stop = awaitTakeOn(session, session.stopTake(error), false, "stop while idle");
    session.close(true, "cpp take test done");

    // No stream declared (a director console): the take CONTROL goes on stream 0.  A stream-less
    // EngineSession starts the take NAME-director, a stream-less EngineLink stops it.
    SessionConfig no_streams = config;
    no_streams.engine = "machinima-bridge C++ director console";
    no_streams.streams.clear();
    EngineSession streamless(context, no_streams);
    if (!streamless.open(timeout_ms, error)) {
        die("stream-less session: " + error);
    }
    const unsigned streamless_stream = streamless.takeStream();
    std::string streamless_error;
    const TakeAck streamless_started =
        awaitTakeOn(streamless, streamless.startTake(name + "-director", streamless_error), true, "stream-less start");
    expect(streamless_started.ok, "the stream-less session started a take: " + streamless_started.describe() + " " + streamless_error);
    streamless.close(true, "cpp stream-less take test done");

    {
        std::lock_guard<std::mutex> lock(probe.mutex);
        take_acks.clear();  // the director link numbers its requests from 1 again
    }
    EngineLink director(no_streams, options, callbacks);
    std::thread director_worker([&] { director.run(); });
    expect(probe.waitFor(30000, [&] { return probe.connects >= 2; }), "the stream-less EngineLink did not connect within 30 s");
    const TakeAck streamless_stopped = awaitTake(director.stopTake(), "stream-less stop");
    expect(streamless_stopped.ok, "the stream-less link stopped the take: " + streamless_stopped.describe());
    director.requestStop();
    director_worker.join();

    size_t misrouted = 0;
    {
        std::lock_guard<std::mutex> lock(probe.mutex);
        misrouted = control_acks;
    }
    expect(misrouted == 0, "take acks reached on_control_ack");
    std::printf(
        "{\"mode\": \"take\", \"bad_name\": {\"request_id\": %llu, \"error\": %s}, \"stop_idle\": %s, \"started\": %s, "
        "\"frames\": %llu, \"results\": %zu, \"start_twice\": %s, \"stopped\": %s, \"same_name\": %s, "
        "\"session_bad_name\": {\"request_id\": %llu, \"error\": %s}, \"session_stop\": %s, "
        "\"streamless\": {\"take_stream\": %u, \"started\": %s, \"stopped\": %s}, \"control_acks\": %zu, \"ok\": %s}\n",
        static_cast<unsigned long long>(bad_request), jsonString(bad_name_error).c_str(), takeAckJson(stop_idle).c_str(),
        takeAckJson(started).c_str(), static_cast<unsigned long long>(frames), results, takeAckJson(twice).c_str(),
        takeAckJson(stopped).c_str(), takeAckJson(same_name).c_str(), static_cast<unsigned long long>(session_bad),
        jsonString(session_bad_name).c_str(), takeAckJson(session_stop).c_str(), streamless_stream,
        takeAckJson(streamless_started).c_str(), takeAckJson(streamless_stopped).c_str(), misrouted,
        g_failures == 0 ? "true" : "false");
    return g_failures == 0 ? 0 : 1;
}

int runLink(const Args& args) {
    uint32_t width = 0;
    uint32_t height = 0;
    parseSize(args.get("size", "64x48"), width, height);
    const auto frames = static_cast<uint64_t>(args.number("frames", 20));
    const int idle_ms = static_cast<int>(args.number("idle-ms", 2500));
    const int restarts = static_cast<int>(args.number("restarts", 1));
    SessionConfig config;
    config.endpoint = args.get("endpoint", "tcp://127.0.0.1:5555");
    config.engine = "machinima-bridge C++ link test";
    StreamDeclaration decl;
    decl.name = "link";
    decl.width = width;
    decl.height = height;
    decl.pipeline = args.get("pipeline", "passthrough");
    config.streams.push_back(decl);
    config.heartbeat_ms = 200;
    LinkOptions options;
    options.reconnect_delay_ms = 300;
    options.max_reconnect_delay_ms = 1000;

    LinkProbe probe;
    LinkCallbacks callbacks;
    callbacks.on_connected = [&](const Welcome&) {
        std::lock_guard<std::mutex> lock(probe.mutex);
        ++probe.connects;
        probe.changed.notify_all();
    };
    callbacks.on_disconnected = [&](const std::string& reason) {
        std::lock_guard<std::mutex> lock(probe.mutex);
        ++probe.disconnects;
        probe.last_disconnect = reason;
        probe.changed.notify_all();
    };
    callbacks.on_result = [&](std::shared_ptr<const ReceivedMessage> msg) {
        const Result& result = std::get<Result>(msg->message);
        const Plane* color = result.plane(PlaneKind::Color);
        std::lock_guard<std::mutex> lock(probe.mutex);
        if (color != nullptr && color->descriptor.width == width && color->descriptor.height == height) {
            probe.result_indices.push_back(result.index);
        }
        probe.changed.notify_all();
    };
    callbacks.on_control_ack = [&](const ControlAck& ack) {
        std::lock_guard<std::mutex> lock(probe.mutex);
        probe.acks.push_back(ack);
        probe.changed.notify_all();
    };
    callbacks.on_log = [](LinkLogLevel level, const std::string& message) {
        if (level >= LinkLogLevel::Info) {
            std::fprintf(stderr, "link: %s\n", message.c_str());
        }
    };
    EngineLink link(config, options, callbacks);
    std::thread worker([&] { link.run(); });

    uint64_t next_index = 0;
    auto sendFrames = [&](const char* phase) {
        size_t before = 0;
        {
            std::lock_guard<std::mutex> lock(probe.mutex);
            before = probe.result_indices.size();
        }
        for (uint64_t k = 0; k < frames; ++k) {
            auto pixels = testPicture(width, height, next_index);
            link.submitFrame(rgbaFrame(0, next_index, width, height, *pixels), pixels);
            const size_t want = before + static_cast<size_t>(k) + 1;
            expect(probe.waitFor(10000, [&] { return probe.result_indices.size() >= want; }),
                   std::string(phase) + ": no RESULT for frame " + std::to_string(next_index));
            ++next_index;
        }
        std::lock_guard<std::mutex> lock(probe.mutex);
        const bool ordered = std::is_sorted(probe.result_indices.begin(), probe.result_indices.end());
        probe.event("{\"event\": \"frames\", \"phase\": \"" + std::string(phase) + "\", \"results\": " +
                    std::to_string(probe.result_indices.size() - before) + ", \"in_order\": " +
                    (ordered ? "true" : "false") + "}");
    };

    const bool connected = probe.waitFor(30000, [&] { return probe.connects >= 1; });
    expect(connected, "EngineLink did not connect within 30 s");
    probe.event("{\"event\": \"connected\", \"state\": \"" + std::string(linkStateName(link.state())) + "\"}");
    if (connected) {
        sendFrames("first");
        std::this_thread::sleep_for(std::chrono::milliseconds(idle_ms));
        {
            std::lock_guard<std::mutex> lock(probe.mutex);
            expect(probe.disconnects == 0, "disconnected while idle: " + probe.last_disconnect);
            probe.event("{\"event\": \"idle\", \"idle_ms\": " + std::to_string(idle_ms) + ", \"disconnects\": " +
                        std::to_string(probe.disconnects) + "}");
        }
        MsgpackValue params = MsgpackValue::map();
        params.append("x", MsgpackValue::integer(1));
        const uint64_t request = link.submitControl(0, "no_such_stage", params);
        const bool acked = probe.waitFor(10000, [&] {
            return std::any_of(probe.acks.begin(), probe.acks.end(),
                               [&](const ControlAck& a) { return a.request_id == request; });
        });
        expect(acked, "no CONTROL_ACK through the link");
        {
            std::lock_guard<std::mutex> lock(probe.mutex);
            for (const ControlAck& ack : probe.acks) {
                if (ack.request_id == request) {
                    expect(!ack.ok && ack.code == static_cast<int64_t>(ErrorCode::UnknownStage),
                           "CONTROL of an unknown stage must be rejected with UNKNOWN_STAGE");
                    probe.event("{\"event\": \"control_ack\", \"ok\": " + std::string(ack.ok ? "true" : "false") +
                                ", \"code\": " + std::to_string(ack.code.value_or(0)) + "}");
                }
            }
        }
        // The test restarts the server `restarts` times (BYE, crash, ...); each time the link must
        // notice, reconnect with a new HELLO, and carry frames again.
        for (int round = 1; round <= restarts && g_failures == 0; ++round) {
            probe.event("{\"event\": \"restart_server\", \"round\": " + std::to_string(round) + "}");
            const bool lost = probe.waitFor(30000, [&] { return probe.disconnects >= round; });
            expect(lost, "round " + std::to_string(round) + ": the link did not notice the server going away");
            {
                std::lock_guard<std::mutex> lock(probe.mutex);
                probe.event("{\"event\": \"disconnected\", \"round\": " + std::to_string(round) +
                            ", \"reason\": " + jsonString(probe.last_disconnect) + "}");
            }
            const bool back = probe.waitFor(60000, [&] { return probe.connects >= round + 1; });
            expect(back, "round " + std::to_string(round) + ": the link did not reconnect");
            {
                std::lock_guard<std::mutex> lock(probe.mutex);
                probe.event("{\"event\": \"reconnected\", \"round\": " + std::to_string(round) +
                            ", \"connects\": " + std::to_string(probe.connects) + "}");
            }
            if (back) {
                sendFrames(("after_restart_" + std::to_string(round)).c_str());
            }
        }
    }
    const auto stop_start = std::chrono::steady_clock::now();
    link.requestStop();
    worker.join();
    const double stop_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - stop_start).count();
    const LinkCounters counters = link.counters();
    probe.event("{\"event\": \"stopped\", \"stop_ms\": " + fmt(stop_ms) + ", \"frames_sent\": " +
                std::to_string(counters.frames_sent) + ", \"results\": " + std::to_string(counters.results) +
                ", \"connects\": " + std::to_string(counters.connects) + ", \"rtt_ms_p50\": " +
                fmt(counters.rtt_ms_p50) + ", \"ok\": " + (g_failures == 0 ? "true" : "false") + "}");
    return g_failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s session|latency|shared|audio|link|take|take-state --endpoint tcp://127.0.0.1:PORT [options]\n", argv[0]);
        return 2;
    }
    const std::string mode = argv[1];
    Args args;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (std::strncmp(argv[i], "--", 2) != 0) {
            die(std::string("expected --option value, got '") + argv[i] + "'");
        }
        args.values[argv[i] + 2] = argv[i + 1];
    }
    if (mode == "session") {
        return runSession(args);
    }
    if (mode == "latency") {
        return runLatency(args);
    }
    if (mode == "link") {
        return runLink(args);
    }
    if (mode == "shared") {
        return runShared(args);
    }
    if (mode == "audio") {
        return runAudio(args);
    }
    if (mode == "take") {
        return runTake(args);
    }
    if (mode == "take-state") {
        return runTakeState(args);
    }
    std::fprintf(stderr, "unknown mode '%s' (session, latency, shared, audio, link, take or take-state)\n", mode.c_str());
    return 2;
}
