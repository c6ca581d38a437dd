// Parsing of the audio format map and of AUDIO (internal to Protocol/; Messages.cpp calls these
// with the message's FieldReader, in the order of checks of bridge/protocol/audio_messages.py).
#pragma once

#include <string>
#include <vector>

#include "Protocol/AudioMessages.h"
#include "Protocol/FieldReader.h"

namespace mbridge {
namespace protocol {

// The `audio` map of a stream declaration at `where` ("streams[0].audio"); failures go to `ctx`.
void parseAudioFormat(ParseContext& ctx, const MsgpackValue& value, const std::string& where, AudioFormat& out);

// AUDIO from its header and the parts after it; failures (naming stream and index once those
// are read) go to the reader's context.
void parseAudio(FieldReader& r, const std::vector<ByteView>& parts, Audio& out);

}  // namespace protocol
}  // namespace mbridge
