// The plugin's pure C++ protocol code against the golden vectors in tests/vectors/.
//
//   protocol_vectors_test VECTORS_DIR
//   protocol_vectors_test --reencode FOLDER      (NAME.0.bin, NAME.1.bin, ... -> NAME.0.out, ...)
//   protocol_vectors_test --pcm FLOATS_F32LE_IN S16LE_OUT
//   protocol_vectors_test --bench-audio         (build with -O2: cpp_build.py OUT_DIR -O2)
//   protocol_vectors_test --take-names FILE      (hex UTF-8 take names, one per line -> verdicts)
//
// For every valid vector (tests/vectors/README.md, "What every implementation's test must do"):
// parse the parts, compare the decoded header and the typed message's header with the JSON
// `header` (keys, order, types, values), compare plane descriptors and SHA-256 of the plane
// bytes, re-encode and compare every part byte for byte, and encode the JSON header to part 0.
// For every invalid vector: parsing must fail with `error_code`.  Then unit checks of the
// msgpack writer/reader, field errors, MOCAP pass-through, the space conversions, and AUDIO (field
// checks, float -> s16, remixing, chunking), and the take API (name rule, CONTROL params, acks, the
// server's take state "bridge.take": good and malformed values, snapshots, who may set it).
//
// Prints one JSON summary line on stdout; failures go to stderr; exit status 1 on any failure.
//
// --reencode parses every message of a folder and writes it back re-encoded, one JSON line per
// message ("reencoded" with kind, parts and, for AUDIO, the samples; or "refused" with the error),
// for the Python test that compares with bridge/protocol.  --pcm converts float32 samples with
// floatToS16 for the Python test that compares with its reference rule.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "Protocol/AudioPcm.h"
#include "Protocol/HeaderCodec.h"
#include "Protocol/HumanoidSkeleton.h"
#include "Protocol/Messages.h"
#include "Protocol/MocapPose.h"
#include "Protocol/PlanePixels.h"
#include "Protocol/Msgpack.h"
#include "Protocol/SpaceConversion.h"
#include "Protocol/TakeControl.h"
#include "support/json_to_msgpack.h"
#include "support/sha256.h"

namespace fs = std::filesystem;
using namespace mbridge::protocol;

namespace {

int g_checks = 0;
int g_failures = 0;

void expect(bool ok, const std::string& what) {
    ++g_checks;
    if (!ok) {
        ++g_failures;
        std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    }
}

bool readFile(const fs::path& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return false;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    out = buf.str();
    return true;
}

std::string hex(const std::vector<uint8_t>& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (uint8_t b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0xf]);
    }
    return out;
}

std::vector<uint8_t> unhex(const std::string& text) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < text.size(); i += 2) {
        out.push_back(static_cast<uint8_t>(std::stoul(text.substr(i, 2), nullptr, 16)));
    }
    return out;
}

bool loadJson(const fs::path& path, MsgpackValue& out) {
    std::string text;
    if (!readFile(path, text)) {
        expect(false, "cannot read " + path.string());
        return false;
    }
    std::string error;
    mbridge::testing::JsonToMsgpack reader(text);
    if (!reader.parse(out, error)) {
        expect(false, path.string() + " is not JSON: " + error);
        return false;
    }
    return true;
}

// Reads the parts a vector's JSON lists; the strings own the bytes the views point into.
bool loadParts(const fs::path& folder, const MsgpackValue& meta, std::vector<std::string>& storage,
               std::vector<ByteView>& parts) {
    const MsgpackValue* names = meta.find("parts");
    if (names == nullptr || !names->isArray()) {
        expect(false, folder.string() + ": vector JSON has no parts list");
        return false;
    }
    storage.resize(names->size());
    for (size_t i = 0; i < names->size(); ++i) {
        if (!readFile(folder / names->at(i).asString(), storage[i])) {
            expect(false, "cannot read part " + names->at(i).asString());
            return false;
        }
    }
    for (const std::string& s : storage) {
        parts.emplace_back(s);
    }
    return true;
}

const std::vector<Plane>* planesOf(const Message& message) {
    if (const auto* frame = std::get_if<Frame>(&message)) {
        return &frame->planes;
    }
    if (const auto* result = std::get_if<Result>(&message)) {
        return &result->planes;
    }
    return nullptr;
}

bool near(double a, double b, double tolerance = 1e-9) { return std::fabs(a - b) < tolerance; }

// The MOCAP vector's pose: decoded values equal `pose_floats`, and encoding the decoded pose
// gives back both parts byte for byte.
void checkGoldenPose(const std::string& name, const Mocap& mocap, const MsgpackValue& floats,
                     const MsgpackValue& sha256, const std::vector<ByteView>& parts) {
    expect(parts.size() == 2 && mbridge::testing::sha256Hex(parts[1].data, parts[1].size) == sha256.asString(),
           name + ": pose part SHA-256 differs");
    MocapPose pose;
    ProtocolError error;
    if (!decodeMocapPose(mocap, pose, error)) {
        expect(false, name + ": decodeMocapPose failed: " + error.describe());
        return;
    }
    std::vector<double> got;
    for (const auto& bone : pose.bone_rotations) {
        got.insert(got.end(), bone.second.begin(), bone.second.end());
    }
    for (const auto& bone : pose.bone_positions_m) {
        got.insert(got.end(), bone.second.begin(), bone.second.end());
    }
    for (const auto& shape : pose.blendshapes) {
        got.push_back(shape.second);
    }
    got.insert(got.end(), pose.confidences.begin(), pose.confidences.end());
    bool same = got.size() == floats.size();
    for (size_t i = 0; same && i < got.size(); ++i) {
        double want = 0.0;
        floats.at(i).toDouble(want);
        same = near(got[i], want, 1e-6);
    }
    expect(same, name + ": decoded pose values differ from pose_floats");
    std::vector<uint8_t> part;
    const Mocap again = encodeMocapPose(pose, part);
    expect(ByteView(encodeHeader(again.toHeader())).sameBytes(parts[0]), name + ": encodeMocapPose header differs");
    expect(ByteView(part).sameBytes(parts[1]), name + ": encodeMocapPose part differs");
}

void checkValidVector(const fs::path& json_path) {
    const std::string name = json_path.stem().string();
    MsgpackValue meta;
    if (!loadJson(json_path, meta)) {
        return;
    }
    std::vector<std::string> storage;
    std::vector<ByteView> parts;
    if (!loadParts(json_path.parent_path(), meta, storage, parts)) {
        return;
    }
    const MsgpackValue& want_header = *meta.find("header");
    const std::string& want_kind = meta.find("kind")->asString();

    Message message;
    ProtocolError error;
    if (!parseMessage(parts, message, error)) {
        expect(false, name + ": parse failed: " + error.describe());
        return;
    }
    expect(want_kind == messageKind(message), name + ": kind " + messageKind(message) + " != " + want_kind);

    MsgpackValue decoded;
    ProtocolError decode_error;
    const bool decoded_ok = decodeHeader(parts[0], decoded, decode_error);
    expect(decoded_ok && decoded == want_header,
           name + ": decoded header differs from JSON:\n  got  " + decoded.toDebugString() + "\n  want " +
               want_header.toDebugString());
    const MsgpackValue typed = messageHeader(message);
    expect(typed == want_header, name + ": typed message header differs from JSON:\n  got  " +
                                     typed.toDebugString() + "\n  want " + want_header.toDebugString());

    const MsgpackValue& want_planes = *meta.find("planes");
    const std::vector<Plane>* planes = planesOf(message);
    const size_t plane_count = planes ? planes->size() : 0;
    if (const auto* mocap = std::get_if<Mocap>(&message)) {
        expect(mocap->parts.size() == parts.size() - 1, name + ": MOCAP parts not carried through");
        if (const MsgpackValue* floats = meta.find("pose_floats")) {
            checkGoldenPose(name, *mocap, *floats, *meta.find("pose_sha256"), parts);
        }
    } else if (const auto* audio = std::get_if<Audio>(&message)) {
        // One binary part that is not a plane: the samples, as listed and hashed in the JSON.
        expect(want_planes.size() == 0 && parts.size() == 2, name + ": AUDIO has one part and no planes");
        const MsgpackValue* want_samples = meta.find("samples_s16");
        const MsgpackValue* want_sha = meta.find("samples_sha256");
        expect(want_samples != nullptr && want_sha != nullptr, name + ": an AUDIO vector lists samples_s16 and samples_sha256");
        if (want_samples != nullptr && want_sha != nullptr) {
            const size_t count = static_cast<size_t>(audio->samples) * audio->channels;
            bool same = want_samples->size() == count;
            for (size_t i = 0; same && i < count; ++i) {
                int64_t want = 0;
                same = want_samples->at(i).toInt64(want) && want == audio->sample(i / audio->channels, i % audio->channels);
            }
            expect(same, name + ": the samples differ from samples_s16");
            expect(mbridge::testing::sha256Hex(audio->pcm.data, audio->pcm.size) == want_sha->asString(),
                   name + ": samples SHA-256 differs");
        }
    } else {
        expect(plane_count == want_planes.size() && plane_count == parts.size() - 1,
               name + ": plane count " + std::to_string(plane_count) + " != " + std::to_string(want_planes.size()));
    }
    for (size_t i = 0; planes && i < std::min(plane_count, want_planes.size()); ++i) {
        const Plane& plane = (*planes)[i];
        const MsgpackValue& want = want_planes.at(i);
        const MsgpackValue wire = plane.descriptor.toWire();
        for (size_t k = 0; k < wire.size(); ++k) {
            const MsgpackValue* expected = want.find(wire.keyAt(k));
            expect(expected && *expected == wire.at(k),
                   name + ": planes[" + std::to_string(i) + "]." + wire.keyAt(k) + " = " + wire.at(k).toDebugString());
        }
        expect(mbridge::testing::sha256Hex(plane.data.data, plane.data.size) == want.find("sha256")->asString(),
               name + ": planes[" + std::to_string(i) + "] SHA-256 differs");
    }

    const SerializedMessage out = serializeMessage(message);
    expect(ByteView(out.header).sameBytes(parts[0]),
           name + ": re-encoded header differs:\n  got  " + hex(out.header) + "\n  want " + hex(std::vector<uint8_t>(parts[0].data, parts[0].data + parts[0].size)));
    expect(out.payload.size() == parts.size() - 1, name + ": re-encoded message has the wrong number of parts");
    for (size_t i = 0; i < out.payload.size() && i + 1 < parts.size(); ++i) {
        expect(out.payload[i].sameBytes(parts[i + 1]), name + ": re-encoded part " + std::to_string(i + 1) + " differs");
    }
    expect(ByteView(encodeHeader(want_header)).sameBytes(parts[0]),
           name + ": the JSON header, encoded canonically, is not part 0");
}

void checkInvalidVector(const fs::path& json_path) {
    const std::string name = "invalid/" + json_path.stem().string();
    MsgpackValue meta;
    if (!loadJson(json_path, meta)) {
        return;
    }
    std::vector<std::string> storage;
    std::vector<ByteView> parts;
    if (!loadParts(json_path.parent_path(), meta, storage, parts)) {
        return;
    }
    int64_t want_code = 0;
    meta.find("error_code")->toInt64(want_code);
    const std::string& want_name = meta.find("error_name")->asString();
    const char* table_name = errorCodeName(want_code);
    expect(table_name != nullptr && want_name == table_name, name + ": error_name " + want_name + " is not code " +
                                                                 std::to_string(want_code) + " in ProtocolErrors.h");
    Message message;
    ProtocolError error;
    const bool parsed = parseMessage(parts, message, error);
    expect(!parsed, name + ": parsed, but must fail with " + want_name);
    if (!parsed) {
        expect(static_cast<int64_t>(error.code) == want_code,
               name + ": failed with " + error.describe() + ", expected " + want_name);
        expect(!error.message.empty(), name + ": error message is empty");
    }
}

// ------------------------------------------------------------------------------ unit checks

void checkCanonicalWriter() {
    struct IntCase {
        int64_t value;
        const char* hex;
    };
    const IntCase signed_cases[] = {
        {0, "00"}, {127, "7f"}, {128, "cc80"}, {255, "ccff"}, {256, "cd0100"}, {65535, "cdffff"},
        {65536, "ce00010000"}, {4294967295LL, "ceffffffff"}, {4294967296LL, "cf0000000100000000"},
        {-1, "ff"}, {-32, "e0"}, {-33, "d0df"}, {-128, "d080"}, {-129, "d1ff7f"}, {-32768, "d18000"},
        {-32769, "d2ffff7fff"}, {-2147483648LL, "d280000000"}, {-2147483649LL, "d3ffffffff7fffffff"},
    };
    for (const IntCase& c : signed_cases) {
        const auto bytes = encodeMsgpack(MsgpackValue::integer(c.value));
        expect(hex(bytes) == c.hex, "int " + std::to_string(c.value) + " encodes as " + hex(bytes) + ", want " + c.hex);
        MsgpackValue back;
        std::string error;
        expect(decodeMsgpack(ByteView(bytes), back, error) && back == MsgpackValue::integer(c.value),
               "int " + std::to_string(c.value) + " does not decode back");
    }
    expect(hex(encodeMsgpack(MsgpackValue::unsignedInteger(18446744073709551615ULL))) == "cfffffffffffffffff",
           "uint64 max");
    expect(hex(encodeMsgpack(MsgpackValue::float64(30.0))) == "cb403e000000000000", "30.0 is float64");
    expect(hex(encodeMsgpack(MsgpackValue::str(std::string(31, 'a')))).substr(0, 2) == "bf", "31-byte fixstr");
    expect(hex(encodeMsgpack(MsgpackValue::str(std::string(32, 'a')))).substr(0, 4) == "d920", "32-byte str8");
    expect(hex(encodeMsgpack(MsgpackValue::str(std::string(256, 'a')))).substr(0, 6) == "da0100", "256-byte str16");
    MsgpackValue arr = MsgpackValue::array();
    for (int i = 0; i < 15; ++i) {
        arr.push(MsgpackValue::nil());
    }
    expect(hex(encodeMsgpack(arr)).substr(0, 2) == "9f", "15-entry fixarray");
    arr.push(MsgpackValue::nil());
    expect(hex(encodeMsgpack(arr)).substr(0, 6) == "dc0010", "16-entry array16");
    MsgpackValue map = MsgpackValue::map();
    for (int i = 0; i < 16; ++i) {
        map.append("k" + std::to_string(i), MsgpackValue::boolean(i % 2 == 0));
    }
    expect(hex(encodeMsgpack(map)).substr(0, 6) == "de0010", "16-entry map16");
    expect(hex(encodeMsgpack(MsgpackValue::bin("\x01\x02"))) == "c4020102", "bin8");
    expect(hex(encodeMsgpack(MsgpackValue::ext(5, "abcd"))) == "d60561626364", "fixext4");
}

void checkReaderAcceptsWideForms() {
    // Receivers accept any valid encoding; re-encoding gives the canonical one.
    const struct {
        const char* in;
        const char* canonical;
    } cases[] = {
        {"cd0001", "01"},                       // uint16 1
        {"d000", "00"},                         // int8 0
        {"d3ffffffffffffffff", "ff"},           // int64 -1
        {"ca3fc00000", "cb3ff8000000000000"},   // float32 1.5 -> float64
        {"d90161", "a161"},                     // str8 "a"
        {"de0001a161c3", "81a161c3"},           // map16 {"a": true}
        {"dc0001c0", "91c0"},                   // array16 [nil]
    };
    for (const auto& c : cases) {
        MsgpackValue value;
        std::string error;
        const auto bytes = unhex(c.in);
        const bool ok = decodeMsgpack(ByteView(bytes), value, error);
        expect(ok && hex(encodeMsgpack(value)) == c.canonical,
               std::string("wide form ") + c.in + " -> " + (ok ? hex(encodeMsgpack(value)) : error));
    }
}

void checkReaderRejects() {
    const struct {
        const char* hex_bytes;
        const char* cause;  // a word the error must contain
    } cases[] = {
        {"c1", "not a msgpack type"},
        {"a3616263ff", "follow"},           // trailing byte
        {"a5616263", "truncated"},
        {"a2c328", "UTF-8"},                // invalid continuation
        {"a2c080", "UTF-8"},                // overlong
        {"a3eda080", "UTF-8"},              // surrogate
        {"8101c3", "not str"},              // int key
        {"82a161c3a161c2", "repeats"},      // duplicate key
        {"dc1001", "above the 4096"},       // 4097 entries
    };
    for (const auto& c : cases) {
        MsgpackValue value;
        std::string error;
        const auto bytes = unhex(c.hex_bytes);
        const bool ok = decodeMsgpack(ByteView(bytes), value, error);
        expect(!ok && error.find(c.cause) != std::string::npos,
               std::string("reader must reject ") + c.hex_bytes + " naming '" + c.cause + "', got: " +
                   (ok ? "accepted" : error));
    }
    std::vector<uint8_t> deep(600, 0x91);
    deep.push_back(0x90);
    MsgpackValue value;
    std::string error;
    expect(!decodeMsgpack(ByteView(deep), value, error) && error.find("nesting") != std::string::npos,
           "600 nested arrays are rejected: " + error);
}

// Parses a header built from a value tree (plus parts); returns the error code or 0.
int parseCode(const MsgpackValue& header, const std::vector<ByteView>& extra, std::string* message = nullptr) {
    const auto bytes = encodeHeader(header);
    std::vector<ByteView> parts{ByteView(bytes)};
    parts.insert(parts.end(), extra.begin(), extra.end());
    Message out;
    ProtocolError error;
    if (parseMessage(parts, out, error)) {
        return 0;
    }
    if (message) {
        *message = error.message;
    }
    return static_cast<int>(error.code);
}

MsgpackValue helloWithWidth(int64_t width) {
    Hello hello;
    hello.engine = "Unreal Engine 5.4";
    StreamDeclaration decl;
    decl.name = "main";
    decl.width = 64;
    decl.height = 32;
    hello.streams.push_back(decl);
    MsgpackValue header = hello.toHeader();
    MsgpackValue& stream = header.at(5).at(0);  // streams[0]
    MsgpackValue patched = MsgpackValue::map();
    for (size_t i = 0; i < stream.size(); ++i) {
        patched.append(stream.keyAt(i), stream.keyAt(i) == "width" ? MsgpackValue::integer(width) : stream.at(i));
    }
    stream = patched;
    return header;
}

void checkFieldErrors() {
    std::string message;
    expect(parseCode(helloWithWidth(0), {}, &message) == 4 && message == "streams[0].width = 0 is outside 1..16384",
           "HELLO width 0 -> BAD_FIELD naming the field, got: " + message);
    expect(parseCode(helloWithWidth(64), {}) == 0, "HELLO width 64 parses");

    MsgpackValue heartbeat = Heartbeat{}.toHeader();
    MsgpackValue no_t = MsgpackValue::map();
    no_t.append("v", MsgpackValue::integer(1));
    no_t.append("kind", MsgpackValue::str("HEARTBEAT"));
    expect(parseCode(no_t, {}, &message) == 4 && message == "HEARTBEAT.t_ns is missing",
           "HEARTBEAT without t_ns: " + message);

    Control control;
    control.stage = "style";
    control.params.append("strength", MsgpackValue::nil());
    expect(parseCode(control.toHeader(), {}, &message) == 11 && message.find("params.strength") != std::string::npos,
           "CONTROL nil param -> BAD_PARAM_VALUE: " + message);
    control.params = MsgpackValue::map();
    MsgpackValue mixed = MsgpackValue::array();
    mixed.push(MsgpackValue::float64(1.0));
    mixed.push(MsgpackValue::boolean(true));
    control.params.append("tint_rgb", mixed);
    expect(parseCode(control.toHeader(), {}) == 11, "CONTROL array holding a bool -> BAD_PARAM_VALUE");
    control.params = MsgpackValue::map();
    control.glide_ms = -1.0;
    expect(parseCode(control.toHeader(), {}, &message) == 4 && message.find("glide_ms") != std::string::npos,
           "CONTROL glide_ms -1 -> BAD_FIELD: " + message);

    // Five planes -> LIMIT_EXCEEDED; an unknown plane kind -> PLANE_MISMATCH.
    Frame frame;
    std::vector<uint8_t> pixels(4 * 4 * 2, 7);
    for (int i = 0; i < 5; ++i) {
        frame.planes.push_back(Plane{PlaneDescriptor::packed(PlaneKind::Color, PixelFormat::RGBA8, 4, 2), ByteView(pixels)});
    }
    expect(parseCode(frame.toHeader(), std::vector<ByteView>(5, ByteView(pixels))) == 13, "5 planes -> LIMIT_EXCEEDED");
}

void checkUnknownKeysIgnored() {
    std::vector<uint8_t> pixels(3 * 2 * 4, 9);
    Frame frame;
    frame.stream = 3;
    frame.index = 11;
    frame.t_capture_ns = 123;
    frame.planes.push_back(Plane{PlaneDescriptor::packed(PlaneKind::Color, PixelFormat::BGRA8, 3, 2), ByteView(pixels)});
    MsgpackValue header = frame.toHeader();
    header.append("future_field", MsgpackValue::str("ignored"));
    MsgpackValue& plane = header.at(5).at(0);
    plane.append("colorspace", MsgpackValue::str("srgb"));
    const auto bytes = encodeHeader(header);
    Message out;
    ProtocolError error;
    const bool ok = parseMessage({ByteView(bytes), ByteView(pixels)}, out, error);
    expect(ok && std::holds_alternative<Frame>(out), "FRAME with unknown keys parses: " + error.describe());
    if (ok) {
        const Frame& parsed = std::get<Frame>(out);
        expect(parsed.stream == 3 && parsed.index == 11 && parsed.planes.size() == 1 &&
                   parsed.planes[0].descriptor.format == PixelFormat::BGRA8,
               "FRAME fields survive unknown keys");
        expect(ByteView(serializeMessage(out).header).sameBytes(ByteView(encodeHeader(frame.toHeader()))),
               "typed re-encode drops unknown keys (as the Python implementation does)");
    }
}

void checkMocapPassThrough() {
    // A MOCAP with fields this build does not know, keys in an unusual order, and two parts.
    MsgpackValue header = MsgpackValue::map();
    header.append("kind", MsgpackValue::str("MOCAP"));
    header.append("v", MsgpackValue::integer(1));
    header.append("source", MsgpackValue::str("xsens"));
    MsgpackValue performer = MsgpackValue::map();
    performer.append("name", MsgpackValue::str("actor-1"));
    performer.append("t", MsgpackValue::float64(1.25));
    performer.append("frame", MsgpackValue::unsignedInteger(5000000000ULL));
    performer.append("offset", MsgpackValue::integer(-40000));
    performer.append("blob", MsgpackValue::bin(std::string("\x00\x01\x02", 3)));
    MsgpackValue performers = MsgpackValue::array();
    performers.push(performer);
    header.append("performers", performers);
    header.append("ext", MsgpackValue::ext(7, "xyz"));
    const auto bytes = encodeHeader(header);
    const std::string part1 = "pose-block-1";
    const std::string part2(1000, '\x5a');
    Message out;
    ProtocolError error;
    const bool ok = parseMessage({ByteView(bytes), ByteView(part1), ByteView(part2)}, out, error);
    expect(ok && std::holds_alternative<Mocap>(out), "MOCAP with new fields parses: " + error.describe());
    if (!ok) {
        return;
    }
    const Mocap& mocap = std::get<Mocap>(out);
    expect(mocap.fields.size() == 3 && mocap.fields.keyAt(0) == "source" && mocap.fields.at(1) == performers,
           "MOCAP fields kept in received order: " + mocap.fields.toDebugString());
    const SerializedMessage again = serializeMessage(out);
    MsgpackValue expected = MsgpackValue::map();  // v and kind first, the rest as received
    expected.append("v", MsgpackValue::integer(1));
    expected.append("kind", MsgpackValue::str("MOCAP"));
    for (size_t i = 2; i < header.size(); ++i) {
        expected.append(header.keyAt(i), header.at(i));
    }
    expect(ByteView(again.header).sameBytes(ByteView(encodeHeader(expected))), "MOCAP re-encodes its fields as received");
    expect(again.payload.size() == 2 && again.payload[0].sameBytes(ByteView(part1)) &&
               again.payload[1].sameBytes(ByteView(part2)),
           "MOCAP parts are carried through unchanged");
    MocapPose pose;
    ProtocolError pose_error;
    expect(!decodeMocapPose(mocap, pose, pose_error) && pose_error.code == ErrorCode::BadField &&
               pose_error.message == "MOCAP.performer is missing",
           "a MOCAP without pose fields is carried through but is no pose: " + pose_error.message);
}

// decodeMocapPose rejects what docs/protocol.md 6.11 rejects, with the same codes.
void checkMocapPoseErrors() {
    MocapPose pose;
    pose.performer = "actor-2";
    pose.t_ns = 42;
    pose.source = "vmc";
    pose.root_position_m = {0.0, 1.0, 0.0};
    pose.bone_rotations = {{"Hips", {0.0, 0.0, 0.0, 2.0}}, {"LeftHand", {0.0, 0.6, 0.0, 0.8}}};
    pose.bone_positions_m = {{"Hips", {0.0, 0.9, 0.1}}};
    pose.blendshapes = {{"jawOpen", 0.5}, {"eyeBlinkLeft", 1.0}};
    pose.confidences = {1.0, 0.5};
    std::vector<uint8_t> part;
    Mocap message = encodeMocapPose(pose, part);
    MocapPose back;
    ProtocolError error;
    expect(decodeMocapPose(message, back, error) && back.bone_rotations.size() == 2 &&
               near(back.bone_rotations[0].second[3], 1.0) && back.confidences.size() == 2 &&
               near(back.confidences[1], 0.5) && back.blendshapes[1].first == "eyeBlinkLeft" && back.t_ns == 42,
           "encodeMocapPose -> decodeMocapPose round trip (rotations normalised): " + error.describe());
    auto codeOf = [](const Mocap& m, std::string* text = nullptr) {
        MocapPose p;
        ProtocolError e;
        if (decodeMocapPose(m, p, e)) {
            return 0;
        }
        if (text) {
            *text = e.message;
        }
        return static_cast<int>(e.code);
    };
    Mocap short_part = message;
    short_part.parts[0].size -= 4;
    std::string text;
    expect(codeOf(short_part, &text) == 7 && text.find("need") != std::string::npos, "short pose part -> PLANE_MISMATCH: " + text);
    Mocap two_parts = message;
    two_parts.parts.push_back(message.parts[0]);
    expect(codeOf(two_parts) == 7, "two parts -> PLANE_MISMATCH");
    MocapPose unknown = pose;
    unknown.bone_rotations[1].first = "LeftPaw";
    std::vector<uint8_t> part2;
    expect(codeOf(encodeMocapPose(unknown, part2), &text) == 4 && text.find("LeftPaw") != std::string::npos,
           "unknown bone -> BAD_FIELD naming it: " + text);
    MocapPose repeated = pose;
    repeated.bone_rotations[1].first = "Hips";
    expect(codeOf(encodeMocapPose(repeated, part2)) == 4, "repeated bone -> BAD_FIELD");
    MocapPose zero = pose;
    zero.bone_rotations[1].second = {0.0, 0.0, 0.0, 0.0};
    expect(codeOf(encodeMocapPose(zero, part2), &text) == 4 && text.find("zero length") != std::string::npos,
           "zero quaternion -> BAD_FIELD: " + text);
    MocapPose nameless = pose;
    nameless.performer.clear();
    expect(codeOf(encodeMocapPose(nameless, part2)) == 4, "empty performer -> BAD_FIELD");
}

void checkHumanoidSkeleton() {
    expect(std::string(humanBoneName(0)) == "Hips" && std::string(humanBoneName(54)) == "UpperChest" &&
               humanBoneIndex("LeftLittleDistal") == 38 && humanBoneIndex("Tail") == -1,
           "HumanBodyBones names in Unity's enum order");
    expect(humanBoneParent(0) == -1 && humanBoneParent(54) == humanBoneIndex("Chest") &&
               humanBoneParent(static_cast<size_t>(humanBoneIndex("Neck"))) == 54 &&
               humanBoneParent(static_cast<size_t>(humanBoneIndex("LeftHand"))) == humanBoneIndex("LeftLowerArm") &&
               humanBoneParent(static_cast<size_t>(humanBoneIndex("RightIndexProximal"))) == humanBoneIndex("RightHand"),
           "humanoid parents (UpperChest between Chest and Neck)");
    const auto& order = humanBonesParentFirst();
    std::vector<bool> placed(kHumanBoneCount, false);
    bool parents_first = order.size() == kHumanBoneCount && order[0] == 0;
    for (size_t bone : order) {
        const int parent = humanBoneParent(bone);
        parents_first = parents_first && (parent < 0 || placed[static_cast<size_t>(parent)]);
        placed[bone] = true;
    }
    expect(parents_first, "humanBonesParentFirst puts every parent before its children");
    const auto arm = humanBoneTPoseOffsetM(static_cast<size_t>(humanBoneIndex("LeftUpperArm")));
    expect(near(arm[0], -0.12) && near(arm[1], 0.0), "T-pose: the left arm points along -X");
}

void checkConstructedRoundTrip() {
    std::vector<uint8_t> color(5 * 3 * 4);
    for (size_t i = 0; i < color.size(); ++i) {
        color[i] = static_cast<uint8_t>(i * 7);
    }
    std::vector<uint8_t> depth(5 * 3 * 4 + 3 * 4);  // padded F32 rows: stride 24
    Frame frame;
    frame.stream = 65535;
    frame.index = kMaxU63;
    frame.t_capture_ns = 1700000000123456789ULL;
    frame.timecode = "01:02:03;04";
    frame.planes.push_back(Plane{PlaneDescriptor::packed(PlaneKind::Color, PixelFormat::RGBA8, 5, 3), ByteView(color)});
    PlaneDescriptor depth_desc = PlaneDescriptor::packed(PlaneKind::Depth, PixelFormat::F32, 5, 3);
    depth_desc.stride = 24;
    frame.planes.push_back(Plane{depth_desc, ByteView(depth)});
    UnrealCameraPose pose;
    pose.width_px = 5;
    pose.height_px = 3;
    frame.camera = cameraInfoFromUnreal(pose);
    const SerializedMessage wire = serializeMessage(frame);
    std::vector<ByteView> parts{ByteView(wire.header)};
    parts.insert(parts.end(), wire.payload.begin(), wire.payload.end());
    Message out;
    ProtocolError error;
    const bool ok = parseMessage(parts, out, error);
    expect(ok, "constructed FRAME parses: " + error.describe());
    if (ok) {
        const Frame& back = std::get<Frame>(out);
        expect(back.stream == 65535 && back.index == kMaxU63 && back.t_capture_ns == frame.t_capture_ns &&
                   back.timecode == frame.timecode && back.planes.size() == 2 &&
                   back.planes[1].descriptor.stride == 24 && back.plane(PlaneKind::Depth) != nullptr &&
                   back.camera && back.camera->intrinsics_px == frame.camera->intrinsics_px,
               "constructed FRAME round-trips its fields");
    }
    Error err = Error::fromProtocolError(ProtocolError{ErrorCode::PlaneMismatch, "bad", "FRAME", 2, 9});
    expect(hex(encodeHeader(err.toHeader())).find(hex(std::vector<uint8_t>{0xa8})) != std::string::npos &&
               err.name == "PLANE_MISMATCH" && err.ref_kind == std::string("FRAME") && err.stream == 2 && err.index == 9,
           "Error::fromProtocolError names code, kind, stream and index");
}

void checkSpaceConversion() {
    UnrealCameraPose pose;
    pose.location_cm = {100.0, 200.0, 300.0};
    pose.width_px = 640;
    pose.height_px = 480;
    pose.horizontal_fov_deg = 90.0;
    CameraInfo cam = cameraInfoFromUnreal(pose);
    // Looking along Unreal +X: protocol forward +x, right -y, down -z.
    const double want[16] = {0, 0, 1, 1.0, -1, 0, 0, -2.0, 0, -1, 0, 3.0, 0, 0, 0, 1};
    bool same = true;
    for (int i = 0; i < 16; ++i) {
        same = same && near(cam.world_from_camera[static_cast<size_t>(i)], want[i]);
    }
    expect(same, "identity Unreal camera -> world_from_camera");
    expect(near(cam.intrinsics_px[0], 320.0) && near(cam.intrinsics_px[1], 320.0) &&
               near(cam.intrinsics_px[2], 319.5) && near(cam.intrinsics_px[3], 239.5),
           "90 degree FOV at 640 px -> fx = fy = 320, centred principal point");
    const double s = std::sqrt(0.5);
    pose.rotation_xyzw = {0.0, 0.0, s, s};  // yaw +90: looking along Unreal +Y
    cam = cameraInfoFromUnreal(pose);
    // forward (column 2) = protocol -y, right (column 0) = protocol -x, down (column 1) = -z.
    expect(near(cam.world_from_camera[2], 0) && near(cam.world_from_camera[6], -1) && near(cam.world_from_camera[10], 0) &&
               near(cam.world_from_camera[0], -1) && near(cam.world_from_camera[4], 0) && near(cam.world_from_camera[9], -1),
           "yawed Unreal camera -> world_from_camera");
    // Unity right (+x), up (+y), forward (+z) -> Unreal +Y, +Z, +X, centimetres.
    const auto position = unrealPositionFromUnity({1.0, 2.0, 3.0});
    expect(near(position[0], 300) && near(position[1], 100) && near(position[2], 200), "Unity metres -> Unreal cm");
    const auto rotation = unrealRotationFromUnity({0.1, 0.2, 0.3, 0.9});
    expect(near(rotation[0], 0.3) && near(rotation[1], 0.1) && near(rotation[2], 0.2) && near(rotation[3], 0.9),
           "Unity quaternion -> Unreal quaternion (qz, qx, qy, qw)");
}

void checkPlanePixels() {
    // RGB8 with a padded stride (7 bytes for 2 pixels) -> packed BGRA8, alpha 255.
    const uint8_t rgb[2 * 7] = {1, 2, 3, 4, 5, 6, 0xee, 7, 8, 9, 10, 11, 12, 0xee};
    uint8_t bgra[2 * 2 * 4] = {};
    rgb8ToBgra8(rgb, 7, bgra, 8, 2, 2);
    const uint8_t want_bgra[16] = {3, 2, 1, 255, 6, 5, 4, 255, 9, 8, 7, 255, 12, 11, 10, 255};
    expect(std::equal(std::begin(bgra), std::end(bgra), std::begin(want_bgra)), "rgb8ToBgra8 swaps, pads alpha, honours stride");
    // Depth rows with a pitch of 3 floats for 2 pixels; sky at 1e6 cm -> +inf.
    const float cm[6] = {150.0f, 2e6f, -1.0f, 0.0f, 1.0f, -1.0f};
    float m[4] = {};
    depthCentimetresToMetres(cm, 3, m, 2, 2, 1e6f);
    expect(near(m[0], 1.5) && std::isinf(m[1]) && m[1] > 0 && near(m[2], 0.0) && near(m[3], 0.01f),
           "depthCentimetresToMetres converts cm to m, sky to +inf, honours pitch");
    uint8_t padded[3 * 6] = {};
    const uint8_t packed[3 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    copyRows(packed, 4, padded, 6, 4, 3);
    expect(padded[6] == 5 && padded[12] == 9 && padded[4] == 0, "copyRows honours both pitches");
}

// ------------------------------------------------------------------------------ AUDIO

MsgpackValue audioHeader(int64_t rate, int64_t channels, int64_t samples) {
    MsgpackValue header = MsgpackValue::map();
    header.append("v", MsgpackValue::integer(1));
    header.append("kind", MsgpackValue::str("AUDIO"));
    header.append("stream", MsgpackValue::integer(3));
    header.append("index", MsgpackValue::integer(9));
    header.append("t_capture_ns", MsgpackValue::integer(1000));
    header.append("sample_rate_hz", MsgpackValue::integer(rate));
    header.append("channels", MsgpackValue::integer(channels));
    header.append("samples", MsgpackValue::integer(samples));
    return header;
}

// Parses a header plus parts; returns the error (code 0 when it parsed).
ProtocolError audioParseError(const MsgpackValue& header, const std::vector<ByteView>& extra) {
    const auto bytes = encodeHeader(header);
    std::vector<ByteView> parts{ByteView(bytes)};
    parts.insert(parts.end(), extra.begin(), extra.end());
    Message out;
    ProtocolError error;
    if (parseMessage(parts, out, error)) {
        error = ProtocolError{};
        error.code = static_cast<ErrorCode>(0);
    }
    return error;
}

void checkAudioMessages() {
    // A chunk built here round-trips with its samples, in canonical key order.
    const int16_t values[6] = {0, -1, 32767, -32768, 12345, -12345};
    std::vector<uint8_t> pcm(12);
    for (size_t i = 0; i < 6; ++i) {
        const auto bits = static_cast<uint16_t>(values[i]);
        pcm[2 * i] = static_cast<uint8_t>(bits & 0xffu);
        pcm[2 * i + 1] = static_cast<uint8_t>(bits >> 8);
    }
    Audio chunk;
    chunk.stream = 2;
    chunk.index = 40;
    chunk.t_capture_ns = 1700000000000000000ULL;
    chunk.sample_rate_hz = 44100;
    chunk.channels = 2;
    chunk.samples = 3;
    chunk.pcm = ByteView(pcm);
    ProtocolError error;
    expect(chunk.validate(error), "a good chunk validates: " + error.describe());
    const SerializedMessage wire = serializeMessage(chunk);
    const MsgpackValue header = chunk.toHeader();
    std::string keys;
    for (size_t i = 0; i < header.size(); ++i) {
        keys += (i ? "," : "") + header.keyAt(i);
    }
    expect(keys == "v,kind,stream,index,t_capture_ns,sample_rate_hz,channels,samples", "AUDIO key order: " + keys);
    Message out;
    const bool ok = parseMessage({ByteView(wire.header), wire.payload.at(0)}, out, error);
    expect(ok && std::holds_alternative<Audio>(out), "a built AUDIO parses: " + error.describe());
    if (ok) {
        const Audio& back = std::get<Audio>(out);
        expect(back.stream == 2 && back.index == 40 && back.t_capture_ns == chunk.t_capture_ns &&
                   back.format() == (AudioFormat{44100, 2}) && back.samples == 3 && back.sample(1, 1) == -32768 &&
                   back.sample(2, 0) == 12345 && back.sample(3, 0) == 0 && back.durationNs() == 3ULL * 1000000000ULL / 44100,
               "AUDIO fields and samples survive a round trip");
    }

    // Out-of-range fields: BAD_FIELD naming the field, the stream and the index.
    const struct {
        int64_t rate, channels, samples;
        size_t bytes;
        const char* word;
    } bad[] = {
        {7999, 2, 4, 16, "sample_rate_hz"}, {192001, 2, 4, 16, "sample_rate_hz"}, {48000, 0, 4, 16, "channels"},
        {48000, 9, 4, 72, "channels"},      {48000, 2, 0, 0, "samples"},          {48000, 2, 48001, 192004, "one second"},
    };
    for (const auto& c : bad) {
        std::vector<uint8_t> part(c.bytes);
        const ProtocolError e = audioParseError(audioHeader(c.rate, c.channels, c.samples), {ByteView(part)});
        expect(e.code == ErrorCode::BadField && e.message.find(c.word) != std::string::npos && e.kind == "AUDIO" &&
                   e.stream == 3u && e.index == 9u,
               std::string("AUDIO with bad ") + c.word + " -> BAD_FIELD naming it, stream and index: " + e.describe());
    }
    MsgpackValue no_channels = MsgpackValue::map();
    const MsgpackValue full = audioHeader(48000, 2, 4);
    for (size_t i = 0; i < full.size(); ++i) {
        if (full.keyAt(i) != "channels") {
            no_channels.append(full.keyAt(i), full.at(i));
        }
    }
    std::vector<uint8_t> sixteen(16);
    ProtocolError e = audioParseError(no_channels, {ByteView(sixteen)});
    expect(e.code == ErrorCode::BadField && e.message == "AUDIO.channels is missing" && e.index == 9u,
           "AUDIO without channels -> BAD_FIELD naming the chunk: " + e.describe());
    // Parts: none, two, or the wrong size -> PLANE_MISMATCH; range checks come first.
    e = audioParseError(full, {});
    expect(e.code == ErrorCode::PlaneMismatch && e.message.find("exactly one binary part") != std::string::npos,
           "AUDIO without a part -> PLANE_MISMATCH: " + e.describe());
    expect(audioParseError(full, {ByteView(sixteen), ByteView(sixteen)}).code == ErrorCode::PlaneMismatch,
           "AUDIO with two parts -> PLANE_MISMATCH");
    std::vector<uint8_t> seventeen(17);
    e = audioParseError(full, {ByteView(seventeen)});
    expect(e.code == ErrorCode::PlaneMismatch && e.message.find("17 bytes") != std::string::npos &&
               e.message.find("need 16") != std::string::npos,
           "AUDIO part of 17 bytes -> PLANE_MISMATCH naming both sizes: " + e.describe());
    expect(audioParseError(audioHeader(48000, 0, 4), {ByteView(seventeen)}).code == ErrorCode::BadField,
           "AUDIO: the range checks come before the size check");

    // A stream declares its audio format after `pipeline`; a format out of range is BAD_FIELD.
    Hello hello;
    hello.engine = "e";
    StreamDeclaration decl;
    decl.name = "cam";
    decl.width = 8;
    decl.height = 4;
    decl.pipeline = "film";
    decl.audio = AudioFormat{44100, 1};
    hello.streams.push_back(decl);
    const MsgpackValue wire_decl = decl.toWire();
    expect(wire_decl.keyAt(wire_decl.size() - 2) == "pipeline" && wire_decl.keyAt(wire_decl.size() - 1) == "audio",
           "the audio map follows pipeline");
    const auto hello_bytes = encodeHeader(hello.toHeader());
    Message hello_out;
    expect(parseMessage({ByteView(hello_bytes)}, hello_out, error) &&
               std::get<Hello>(hello_out).streams.at(0).audio == (AudioFormat{44100, 1}),
           "HELLO with an audio format round-trips: " + error.describe());
    for (const AudioFormat& format : {AudioFormat{7999, 2}, AudioFormat{48000, 0}, AudioFormat{48000, 9}}) {
        hello.streams[0].audio = format;
        const auto bytes = encodeHeader(hello.toHeader());
        const bool parsed = parseMessage({ByteView(bytes)}, hello_out, error);
        expect(!parsed && error.code == ErrorCode::BadField && error.message.rfind("streams[0].audio.", 0) == 0 &&
                   !format.problem().empty(),
               "HELLO declaring " + format.describe() + " -> BAD_FIELD: " + error.describe());
    }
    expect(AudioFormat{192000, 8}.problem().empty(), "192 kHz x 8 is in range");
}

void checkFloatToS16() {
    const struct {
        float in;
        int16_t want;
        const char* why;
    } cases[] = {
        {0.0f, 0, "silence"},
        {1.0f, 32767, "full scale"},
        {-1.0f, -32767, "-1 is -32767: the scale is symmetric"},
        {1.5f, 32767, "above full scale clamps"},
        {-1.5f, -32768, "below clamps to the most negative sample"},
        {INFINITY, 32767, "+inf"},
        {-INFINITY, -32768, "-inf"},
        {NAN, 0, "NaN is silence"},
        {0.5f, 16384, "16383.5 rounds to the even 16384"},
        {-0.5f, -16384, "-16383.5 rounds to the even -16384"},
        {0.25f, 8192, "8191.75 rounds up"},
        {0.125f, 4096, "4095.875 rounds up"},
        {0.6f / 32767.0f, 1, "0.6 rounds to 1"},
        {0.4f / 32767.0f, 0, "0.4 rounds to 0"},
    };
    for (const auto& c : cases) {
        const int16_t got = floatToS16(c.in);
        expect(got == c.want, std::string("floatToS16: ") + c.why + " (got " + std::to_string(got) + ")");
    }
    const float block[4] = {9.0f, 1.0f, -1.0f, 0.5f};
    uint8_t bytes[6] = {};
    floatsToS16Le(block + 1, 3, bytes);
    const uint8_t want[6] = {0xff, 0x7f, 0x01, 0x80, 0x00, 0x40};
    expect(std::equal(std::begin(bytes), std::end(bytes), std::begin(want)), "floatsToS16Le writes little-endian s16");
    const float stereo[2] = {0.2f, 0.6f};
    const float mono[1] = {-0.3f};
    const float surround[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    expect(near(remixSample(stereo, 2, 0, 1), 0.4, 1e-7) && near(remixSample(stereo, 2, 1, 2), 0.6, 1e-7) &&
               near(remixSample(mono, 1, 1, 2), -0.3, 1e-7) && near(remixSample(surround, 6, 1, 2), 0.2, 1e-7),
           "remixSample: mean to mono, mono to every speaker, shared channels kept");
}

void checkAudioChunker() {
    struct Chunk {
        uint64_t t;
        std::vector<uint8_t> pcm;
        uint32_t samples;
    };
    std::vector<Chunk> got;
    auto sink = [&](uint64_t t, std::vector<uint8_t>&& pcm, uint32_t samples) {
        got.push_back(Chunk{t, std::move(pcm), samples});
    };
    AudioChunker chunker(48000, 2, audioSamplesFor(48000, 10.0), sink);
    expect(chunker.valid() && chunker.chunkSamples() == 480, "10 ms at 48 kHz is 480 samples");
    // mono blocks of 256 frames at a jittery callback clock: ramp values k / 32767
    const int64_t start = 5000000000LL;
    int k = 0;
    for (int block = 0; block < 8; ++block) {
        std::vector<float> data(256);
        for (float& v : data) {
            v = static_cast<float>(k % 1000) / 32767.0f;
            ++k;
        }
        const int64_t jitter = block % 2 == 0 ? 2000000 : -1500000;
        chunker.write(data.data(), data.size(), 1, start + block * 256LL * 1000000000LL / 48000 + jitter);
    }
    bool ok = got.size() == 4 && chunker.resyncs == 0;
    for (size_t c = 0; ok && c < got.size(); ++c) {
        ok = got[c].samples == 480 && got[c].pcm.size() == 480 * 4 &&
             got[c].t == static_cast<uint64_t>(start + 2000000 + static_cast<int64_t>(c) * 10000000LL);
        for (size_t f = 0; ok && f < 480; f += 97) {
            const auto value = static_cast<uint16_t>((c * 480 + f) % 1000);
            ok = (got[c].pcm[4 * f] | (got[c].pcm[4 * f + 1] << 8)) == value &&
                 (got[c].pcm[4 * f + 2] | (got[c].pcm[4 * f + 3] << 8)) == value;
        }
    }
    expect(ok, "AudioChunker: four even chunks 10 ms apart on the sample clock, mono spread to both channels");
    chunker.flush();
    expect(got.size() == 5 && got[4].samples == 128 && got[4].pcm.size() == 128 * 4, "flush sends the partial chunk");
    chunker.flush();
    expect(got.size() == 5, "an empty chunk is never sent");

    got.clear();
    AudioChunker paused(8000, 1, 80, sink);
    paused.offset_ns = 7;
    std::vector<float> silence(100);
    paused.write(silence.data(), 100, 1, 1000000000LL);
    paused.write(silence.data(), 10, 1, 3000000000LL);  // two seconds later: a pause
    expect(got.size() == 2 && paused.resyncs == 1 && got[1].samples == 20 &&
               got[1].t == 1000000000ULL + 80 * 125000ULL + 7,
           "AudioChunker: a gap re-anchors the clock and sends the partial chunk");
    paused.write(silence.data(), 70, 1, 3000000000LL + 10 * 125000LL);
    expect(got.size() == 3 && got[2].t == 3000000000ULL + 7, "after the gap the clock starts again at the callback");
    expect(!AudioChunker(48000, 2, 48001, sink).valid() && !AudioChunker(7999, 2, 100, sink).valid() &&
               !AudioChunker(48000, 9, 100, sink).valid(),
           "AudioChunker refuses chunks over a second and formats out of range");
}

// ------------------------------------------------------------------------------ tools for the Python tests

std::string jsonText(const std::string& text) {
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

// A CONTROL_ACK as the server sends it: built, serialised and parsed back.
ControlAck takeAckFromWire(uint64_t request_id, bool ok, const MsgpackValue& applied, std::optional<int64_t> code = std::nullopt,
                           std::optional<std::string> reason = std::nullopt) {
    ControlAck ack;
    ack.request_id = request_id;
    ack.ok = ok;
    ack.applied = applied;
    ack.code = code;
    ack.reason = std::move(reason);
    const SerializedMessage wire = serializeMessage(ack);
    std::vector<ByteView> parts{ByteView(wire.header)};
    Message out;
    ProtocolError error;
    expect(parseMessage(parts, out, error), "CONTROL_ACK round trip: " + error.describe());
    return std::holds_alternative<ControlAck>(out) ? std::get<ControlAck>(out) : ControlAck{};
}

void checkTakeControl() {
    std::string problem;
    for (const std::string& good : std::vector<std::string>{"scene-4", "a", "7", "Take_01.v2", "x..", "z-", std::string(128, 'a')}) {
        expect(checkTakeName(good, problem), "take name '" + good + "' is valid: " + problem);
    }
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"", "empty"}, {std::string(129, 'a'), "129 bytes long"}, {".hidden", "starts with '.'"}, {"-x", "starts with '-'"},
        {"scene 4", "' ' at position 5"}, {"a/b", "'/' at position 1"}, {"a\n", "byte 0x0A at position 1"},
        {"caf\xc3\xa9", "byte 0xC3 at position 3"}, {std::string("a\0b", 3), "byte 0x00 at position 1"},
    };
    for (const auto& entry : bad) {
        problem.clear();
        expect(!checkTakeName(entry.first, problem) && problem.find(entry.second) != std::string::npos &&
                   problem.find("letters, digits, '.', '_' or '-'") != std::string::npos,
               "take name refused saying '" + entry.second + "': " + problem);
    }
    // The CONTROLs: canonical params, the stage "take".
    MsgpackValue start = takeStartParams("scene-4");
    expect(start.size() == 2 && start.keyAt(0) == "record" && start.at(0).isBool() && start.at(0).asBool() &&
               start.keyAt(1) == "name" && start.at(1).asString() == "scene-4",
           "start params are {record: true, name}");
    expect(takeStartParams("").size() == 1, "start params without a name let the server choose");
    MsgpackValue stop = takeStopParams();
    expect(stop.size() == 1 && stop.at(0).isBool() && !stop.at(0).asBool(), "stop params are {record: false}");

    // Reading acks.
    MsgpackValue applied = MsgpackValue::map();
    applied.append("record", MsgpackValue::boolean(true));
    applied.append("take", MsgpackValue::str("scene-4"));
    applied.append("path", MsgpackValue::str("/srv/takes/scene-4"));
    applied.append("timecode", MsgpackValue::str("10:00:00:00"));
    TakeAck read;
    std::string error;
    expect(readTakeAck(takeAckFromWire(7, true, applied), true, read, error) && read.ok && read.record &&
               read.request_id == 7 && read.take == "scene-4" && read.path == "/srv/takes/scene-4" &&
               read.timecode == std::string("10:00:00:00") && !read.status && !read.duration_s,
           "a start ack is read: " + error);
    expect(read.describe() == "take 'scene-4' recording to /srv/takes/scene-4 from 10:00:00:00", read.describe());
    MsgpackValue stopped = MsgpackValue::map();
    stopped.append("record", MsgpackValue::boolean(false));
    stopped.append("take", MsgpackValue::str("t"));
    stopped.append("path", MsgpackValue::str("/p"));
    stopped.append("status", MsgpackValue::str("failed"));
    stopped.append("duration_s", MsgpackValue::integer(12));
    stopped.append("failure", MsgpackValue::str("disk full"));
    expect(readTakeAck(takeAckFromWire(8, true, stopped), false, read, error) && read.ok && !read.record &&
               read.status == std::string("failed") && read.duration_s == 12.0 && read.failure == std::string("disk full"),
           "a stop ack is read: " + error);
    expect(read.describe() == "take 't' failed (12.0 s): disk full", read.describe());
    expect(readTakeAck(takeAckFromWire(9, false, MsgpackValue::map(), 11, std::string("take: no take is recording")), false,
                       read, error) &&
               !read.ok && !read.record && read.code == 11 && read.reason == "take: no take is recording",
           "a refusal is read with its code and reason");
    expect(read.describe() == "take stop refused (BAD_PARAM_VALUE): take: no take is recording", read.describe());
    // Unreadable acks name the field.
    auto refusedWith = [&](const MsgpackValue& fields, bool record, const std::string& want) {
        error.clear();
        expect(!readTakeAck(takeAckFromWire(10, true, fields), record, read, error) && error.find(want) != std::string::npos,
               "unreadable take ack names '" + want + "': " + error);
    };
    MsgpackValue no_record = MsgpackValue::map();
    no_record.append("take", MsgpackValue::str("x"));
    refusedWith(no_record, true, "applied.record must be a bool, got nothing");
    MsgpackValue no_take = MsgpackValue::map();
    no_take.append("record", MsgpackValue::boolean(true));
    refusedWith(no_take, true, "applied.take is missing");
    MsgpackValue int_take = no_take;
    int_take.append("take", MsgpackValue::integer(4));
    refusedWith(int_take, true, "applied.take must be a string");
    refusedWith(stopped, true, "applied.record is false but the request started a take");
    MsgpackValue text_duration = MsgpackValue::map();
    text_duration.append("record", MsgpackValue::boolean(false));
    text_duration.append("take", MsgpackValue::str("x"));
    text_duration.append("duration_s", MsgpackValue::str("long"));
    refusedWith(text_duration, false, "applied.duration_s must be a number");
    const TakeAck lost = failedTakeAck(3, true, "not sent");
    expect(!lost.ok && lost.record && !lost.code && lost.describe() == "take start refused: not sent", lost.describe());
}

// --take-names FILE: the take name rule on every name of a file (one per line, its UTF-8 bytes in
// hex, so any byte fits): one JSON line per name with the verdict, for the Python test that
// compares it with the server's rule.
int checkTakeNamesFile(const fs::path& path) {
    std::ifstream in(path);
    if (!in) {
        std::fprintf(stderr, "cannot read %s\n", path.string().c_str());
        return 2;
    }
    std::string line;
    while (std::getline(in, line)) {
        std::string name;
        for (size_t i = 0; i + 1 < line.size(); i += 2) {
            name += static_cast<char>(std::stoi(line.substr(i, 2), nullptr, 16));
        }
        std::string problem;
        const bool valid = checkTakeName(name, problem);
        std::string escaped;
        for (char c : problem) {
            if (c == '"' || c == '\\') {
                escaped += '\\';
                escaped += c;
            } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
                char buf[8];
                std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                escaped += buf;
            } else {
                escaped += c;
            }
        }
        std::printf("{\"hex\": \"%s\", \"valid\": %s, \"problem\": \"%s\"}\n", line.c_str(), valid ? "true" : "false",
                    escaped.c_str());
    }
    return 0;
}

int reencodeFolder(const fs::path& folder) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder)) {
        const std::string file = entry.path().filename().string();
        const std::string suffix = ".0.bin";
        if (file.size() > suffix.size() && file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0) {
            names.push_back(file.substr(0, file.size() - suffix.size()));
        }
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
        std::vector<std::string> storage;
        for (int i = 0;; ++i) {
            std::string bytes;
            if (!readFile(folder / (name + "." + std::to_string(i) + ".bin"), bytes)) {
                break;
            }
            storage.push_back(std::move(bytes));
        }
        std::vector<ByteView> parts;
        for (const std::string& bytes : storage) {
            parts.emplace_back(bytes);
        }
        Message message;
        ProtocolError error;
        if (!parseMessage(parts, message, error)) {
            const char* code_name = errorCodeName(error.code);
            std::printf("{\"event\": \"refused\", \"name\": %s, \"error_code\": %d, \"error_name\": %s, \"message\": %s}\n",
                        jsonText(name).c_str(), static_cast<int>(error.code), jsonText(code_name ? code_name : "").c_str(),
                        jsonText(error.message).c_str());
            continue;
        }
        const SerializedMessage out = serializeMessage(message);
        std::vector<ByteView> again{ByteView(out.header)};
        again.insert(again.end(), out.payload.begin(), out.payload.end());
        for (size_t i = 0; i < again.size(); ++i) {
            std::ofstream file(folder / (name + "." + std::to_string(i) + ".out"), std::ios::binary);
            file.write(reinterpret_cast<const char*>(again[i].data), static_cast<std::streamsize>(again[i].size));
        }
        std::string extra;
        if (const auto* audio = std::get_if<Audio>(&message)) {
            const size_t count = static_cast<size_t>(audio->samples) * audio->channels;
            int64_t sum = 0;
            std::string list;
            for (size_t i = 0; i < count; ++i) {
                const int16_t value = audio->sample(i / audio->channels, i % audio->channels);
                sum += value;
                if (count <= 1024) {
                    list += (i ? ", " : "") + std::to_string(value);
                }
            }
            extra = ", \"sample_count\": " + std::to_string(count) + ", \"sample_sum\": " + std::to_string(sum);
            if (count <= 1024) {
                extra += ", \"samples_s16\": [" + list + "]";
            }
        }
        std::printf("{\"event\": \"reencoded\", \"name\": %s, \"kind\": %s, \"parts\": %zu%s}\n", jsonText(name).c_str(),
                    jsonText(messageKind(message)).c_str(), again.size(), extra.c_str());
    }
    return 0;
}

// The audio thread's work per second of 48 kHz stereo (480-frame callbacks through AudioChunker:
// remix, float -> s16, 20 ms chunks) beside a plain copy of the same floats, and one 20 ms chunk's
// serialize and parse.  One JSON line.
int benchAudio() {
    using Clock = std::chrono::steady_clock;
    std::vector<float> block(480 * 2);
    for (size_t i = 0; i < block.size(); ++i) {
        block[i] = static_cast<float>(std::sin(static_cast<double>(i) * 0.01));
    }
    uint64_t chunks = 0;
    AudioChunker chunker(48000, 2, 960, [&](uint64_t, std::vector<uint8_t>&&, uint32_t) { ++chunks; });
    int64_t clock = 0;
    auto perSecondUs = [&](auto&& second, int repeats) {
        for (int i = 0; i < 5; ++i) {
            second();
        }
        const auto start = Clock::now();
        for (int i = 0; i < repeats; ++i) {
            second();
        }
        return std::chrono::duration<double, std::micro>(Clock::now() - start).count() / repeats;
    };
    const double chunker_us = perSecondUs([&] {
        for (int b = 0; b < 100; ++b, clock += 10000000) {
            chunker.write(block.data(), 480, 2, clock);
        }
    }, 200);
    std::vector<float> copy(block.size());
    volatile float sink = 0.0f;
    const double copy_us = perSecondUs([&] {
        for (int b = 0; b < 100; ++b) {
            std::memcpy(copy.data(), block.data(), block.size() * sizeof(float));
            sink = sink + copy[static_cast<size_t>(b)];
        }
    }, 200);
    std::vector<uint8_t> pcm(960 * 2 * 2);
    Audio chunk;
    chunk.index = 1;
    chunk.t_capture_ns = 123456789;
    chunk.samples = 960;
    chunk.pcm = ByteView(pcm);
    const SerializedMessage wire = serializeMessage(chunk);
    const std::vector<ByteView> parts{ByteView(wire.header), wire.payload.at(0)};
    const double encode_us = perSecondUs([&] { serializeMessage(chunk); }, 20000);
    const double parse_us = perSecondUs([&] {
        Message out;
        ProtocolError error;
        parseMessage(parts, out, error);
    }, 20000);
    std::printf("{\"event\": \"bench_audio\", \"audio_chunker_1s_48k_stereo_us\": %.2f, \"audio_copy_1s_48k_stereo_us\": %.2f, "
                "\"audio_chunker_over_copy\": %.1f, \"audio_chunker_realtime_factor\": %.0f, \"audio_chunk_20ms_encode_us\": %.3f, "
                "\"audio_chunk_20ms_parse_us\": %.3f, \"chunks\": %llu}\n",
                chunker_us, copy_us, chunker_us / copy_us, 1e6 / chunker_us, encode_us, parse_us,
                static_cast<unsigned long long>(chunks));
    return 0;
}

int convertPcm(const fs::path& input, const fs::path& output) {
    std::string raw;
    if (!readFile(input, raw)) {
        std::fprintf(stderr, "cannot read %s\n", input.string().c_str());
        return 2;
    }
    std::vector<float> floats(raw.size() / 4);
    std::memcpy(floats.data(), raw.data(), floats.size() * 4);  // little-endian hosts only (x86, ARM)
    std::vector<uint8_t> pcm(floats.size() * 2);
    floatsToS16Le(floats.data(), floats.size(), pcm.data());
    std::ofstream file(output, std::ios::binary);
    file.write(reinterpret_cast<const char*>(pcm.data()), static_cast<std::streamsize>(pcm.size()));
    std::printf("{\"event\": \"pcm\", \"samples\": %zu}\n", floats.size());
    return file ? 0 : 1;
}

std::vector<fs::path> jsonFiles(const fs::path& folder) {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(folder)) {
        if (entry.path().extension() == ".json") {
            out.push_back(entry.path());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

// A server message (STATE or SESSION) through real bytes: serialised and parsed back.
Message fromWire(const Message& message) {
    const SerializedMessage wire = serializeMessage(message);
    std::vector<ByteView> parts{ByteView(wire.header)};
    Message out;
    ProtocolError error;
    expect(parseMessage(parts, out, error), std::string(messageKind(message)) + " round trip: " + error.describe());
    return out;
}

Message serverStateChange(const std::string& key, const MsgpackValue& value, const std::string& by = kServerAuthor,
                          const std::string& op = "set") {
    StateChange change;
    change.key = key;
    change.op = op;
    change.value = value;
    change.by = by;
    change.version = 3;
    return fromWire(change);
}

Message snapshotWith(const MsgpackValue& state) {
    SessionEvent event;
    event.session = "forum";
    event.event = "snapshot";
    event.engine_id = "engine-1";
    event.engine = "Unreal";
    event.state = state;
    return fromWire(event);
}

MsgpackValue takeValue(std::optional<bool> recording, std::optional<MsgpackValue> take) {
    MsgpackValue value = MsgpackValue::map();
    if (recording) {
        value.append("recording", MsgpackValue::boolean(*recording));
    }
    if (take) {
        value.append("take", *take);
    }
    return value;
}

void checkTakeState() {
    MsgpackValue started = takeValue(true, MsgpackValue::str("scene-9"));
    started.append("timecode", MsgpackValue::str("10:00:00:00"));
    TakeState state;
    std::string error;
    expect(readTakeState(started, state, error) && state.recording && state.take == "scene-9" &&
               state.timecode == std::string("10:00:00:00") && !state.status,
           "a start value is read: " + error);
    expect(state.describe() == "recording take 'scene-9' since 10:00:00:00", state.describe());
    MsgpackValue stopped = takeValue(false, MsgpackValue::str("scene-9"));
    stopped.append("status", MsgpackValue::str("stopping"));
    expect(readTakeState(stopped, state, error) && !state.recording && state.take == "scene-9" && !state.timecode &&
               state.status == std::string("stopping"),
           "a stop value is read: " + error);
    expect(state.describe() == "take 'scene-9' stopping", state.describe());
    MsgpackValue nils = takeValue(true, MsgpackValue::str("t"));
    nils.append("timecode", MsgpackValue::nil());
    nils.append("status", MsgpackValue::nil());
    nils.append("added_later", MsgpackValue::integer(7));
    expect(readTakeState(nils, state, error) && state.recording && !state.timecode && !state.status,
           "nil optional fields and unknown keys are accepted: " + error);
    expect(TakeState().describe() == "no take recorded yet" && TakeState() != state, "the default state is no take");

    // Malformed values name the field, read directly, from a server STATE and from a snapshot.
    MsgpackValue bad_timecode = takeValue(true, MsgpackValue::str("t"));
    bad_timecode.append("timecode", MsgpackValue::integer(5));
    MsgpackValue bad_status = takeValue(false, MsgpackValue::str("t"));
    bad_status.append("status", MsgpackValue::array());
    const std::vector<std::pair<MsgpackValue, std::string>> malformed = {
        {MsgpackValue::str("recording"), "bridge.take must be a map, got str"},
        {MsgpackValue::nil(), "bridge.take must be a map, got nil"},
        {takeValue(std::nullopt, MsgpackValue::str("t")), "bridge.take.recording is missing"},
        {takeValue(true, std::nullopt), "bridge.take.take is missing"},
        {takeValue(true, MsgpackValue::integer(7)), "bridge.take.take must be a string, got int"},
        {takeValue(true, MsgpackValue::nil()), "bridge.take.take must be a string, got nil"},
        {takeValue(true, MsgpackValue::str("")), "bridge.take.take is empty"},
        {bad_timecode, "bridge.take.timecode must be a string or nil, got int"},
        {bad_status, "bridge.take.status must be a string or nil, got array"},
    };
    MsgpackValue text_recording = MsgpackValue::map();
    text_recording.append("recording", MsgpackValue::str("yes"));
    text_recording.append("take", MsgpackValue::str("t"));
    expect(!readTakeState(text_recording, state, error) && error == "bridge.take.recording must be a bool, got str", error);
    for (const auto& entry : malformed) {
        error.clear();
        expect(!readTakeState(entry.first, state, error) && error == entry.second,
               "malformed " + entry.first.toDebugString() + " refused with '" + entry.second + "': got '" + error + "'");
        error.clear();
        expect(takeStateFrom(serverStateChange(kTakeStateKey, entry.first), state, error) == TakeStateNews::Malformed &&
                   error == entry.second,
               "malformed STATE " + entry.first.toDebugString() + ": " + error);
        MsgpackValue snapshot_state = MsgpackValue::map();
        snapshot_state.append(kTakeStateKey, entry.first);
        error.clear();
        expect(takeStateFrom(snapshotWith(snapshot_state), state, error) == TakeStateNews::Malformed && error == entry.second,
               "malformed snapshot " + entry.first.toDebugString() + ": " + error);
    }

    // Messages: snapshots with and without the key, the server's changes only.
    MsgpackValue cue_only = MsgpackValue::map();
    cue_only.append("cue", MsgpackValue::str("lights"));
    state.recording = true;
    expect(takeStateFrom(snapshotWith(cue_only), state, error) == TakeStateNews::Read && state == TakeState(),
           "a snapshot without the key says no take yet");
    MsgpackValue with_take = cue_only;
    with_take.append(kTakeStateKey, started);
    expect(takeStateFrom(snapshotWith(with_take), state, error) == TakeStateNews::Read && state.recording &&
               state.take == "scene-9" && state.timecode == std::string("10:00:00:00"),
           "a snapshot after the start holds the take: " + error);
    expect(takeStateFrom(serverStateChange(kTakeStateKey, stopped), state, error) == TakeStateNews::Read && !state.recording &&
               state.status == std::string("stopping"),
           "the server's STATE is read: " + error);
    expect(takeStateFrom(serverStateChange(kTakeStateKey, started, "engine-4"), state, error) == TakeStateNews::None,
           "an engine setting bridge.take is not the server's word");
    expect(takeStateFrom(serverStateChange("cue", started), state, error) == TakeStateNews::None, "another key says nothing");
    expect(takeStateFrom(serverStateChange(kTakeStateKey, MsgpackValue::nil(), kServerAuthor, "delete"), state, error) ==
                   TakeStateNews::Read &&
               state == TakeState(),
           "the server deleting the key reads as no take");
    SessionEvent join;
    join.session = "forum";
    join.event = "join";
    join.engine_id = "engine-2";
    join.engine = "Unity";
    expect(takeStateFrom(fromWire(join), state, error) == TakeStateNews::None, "a join says nothing about takes");
    Heartbeat heartbeat;
    heartbeat.t_ns = 5;
    expect(takeStateFrom(heartbeat, state, error) == TakeStateNews::None, "a HEARTBEAT says nothing about takes");
    TakeState a;
    a.recording = true;
    a.take = "t";
    a.timecode = "10:00:00:00";
    TakeState b = a;
    expect(a == b, "equal states compare equal");
    b.status = "complete";
    expect(a != b, "the status counts");
    b = a;
    b.timecode = "10:00:00:01";
    expect(a != b, "the timecode counts");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "--reencode") {
        return reencodeFolder(argv[2]);
    }
    if (argc == 4 && std::string(argv[1]) == "--pcm") {
        return convertPcm(argv[2], argv[3]);
    }
    if (argc == 3 && std::string(argv[1]) == "--take-names") {
        return checkTakeNamesFile(argv[2]);
    }
    if (argc == 2 && std::string(argv[1]) == "--bench-audio") {
        return benchAudio();
    }
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s VECTORS_DIR (tests/vectors)\n", argv[0]);
        return 2;
    }
    const fs::path vectors = argv[1];
    if (!fs::is_directory(vectors) || !fs::is_directory(vectors / "invalid")) {
        std::fprintf(stderr, "%s is not the golden vector folder (it needs an invalid/ subfolder)\n", argv[1]);
        return 2;
    }
    const auto valid = jsonFiles(vectors);
    const auto invalid = jsonFiles(vectors / "invalid");
    for (const auto& path : valid) {
        checkValidVector(path);
    }
    for (const auto& path : invalid) {
        checkInvalidVector(path);
    }
    const int vector_checks = g_checks;
    checkCanonicalWriter();
    checkReaderAcceptsWideForms();
    checkReaderRejects();
    checkFieldErrors();
    checkUnknownKeysIgnored();
    checkMocapPassThrough();
    checkConstructedRoundTrip();
    checkSpaceConversion();
    checkPlanePixels();
    checkMocapPoseErrors();
    checkHumanoidSkeleton();
    checkAudioMessages();
    checkFloatToS16();
    checkAudioChunker();
    checkTakeControl();
    checkTakeState();
    std::printf("{\"valid_vectors\": %zu, \"invalid_vectors\": %zu, \"vector_checks\": %d, \"unit_checks\": %d, "
                "\"failures\": %d}\n",
                valid.size(), invalid.size(), vector_checks, g_checks - vector_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}
