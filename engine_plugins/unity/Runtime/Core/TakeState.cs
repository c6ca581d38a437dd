// The server's take state (docs/protocol.md 6.13, "Keys the server sets itself"): whenever a take
// starts or stops, whoever started it (an engine's CONTROL, OSC, the server's command line), the
// server sets the shared-state key "bridge.take" in every session, with `by` = "server":
//   start: {"recording": true,  "take": NAME, "timecode": SMPTE}
//   stop:  {"recording": false, "take": NAME, "status": STATUS}
// An engine that joins later finds the key in its SESSION snapshot `state`. Only engines that
// declared the HELLO capability "session" receive either. This file reads both into a TakeState.
using System;
using MachinimaBridge.Protocol;

namespace MachinimaBridge.Core
{
    public sealed class TakeState : IEquatable<TakeState>
    {
        /// <summary>The shared-state key the server sets when a take starts or stops.</summary>
        public const string StateKey = "bridge.take";

        /// <summary>STATE.by of the changes the server makes itself.</summary>
        public const string ServerAuthor = "server";

        /// <summary>The server has recorded no take since it started (its snapshot has no "bridge.take").</summary>
        public static readonly TakeState NoTake = new TakeState(false, null, null, null);

        public TakeState(bool recording, string take, string timecode, string status)
        {
            Recording = recording;
            Take = take;
            Timecode = timecode;
            Status = status;
        }

        /// <summary>True while a take records.</summary>
        public bool Recording { get; }

        /// <summary>The take recording, or the last one recorded; null when the server has recorded none yet.</summary>
        public string Take { get; }

        /// <summary>While recording: the SMPTE timecode of the take's first instant (null when the server gave none).</summary>
        public string Timecode { get; }

        /// <summary>After a stop: "stopping" (the writers are finishing), "complete", "failed", ... (null when the server gave none).</summary>
        public string Status { get; }

        /// <summary>
        /// Reads the value of the STATE key "bridge.take". Throws FormatException naming the field when
        /// it is not a map, lacks "recording" (bool) or "take" (non-empty string), or holds a
        /// "timecode" or "status" that is neither a string nor nil. Other keys are ignored (newer servers).
        /// </summary>
        public static TakeState FromStateValue(MsgPackValue value)
        {
            if (value == null || value.Type != MsgPackType.Map)
            {
                throw new FormatException(StateKey + " must be a map, got " + (value == null ? "nothing" : MsgPackValue.TypeName(value.Type)));
            }
            MsgPackMap map = value.AsMap;
            MsgPackValue recording;
            if (!map.TryGetValue("recording", out recording))
            {
                throw new FormatException(StateKey + ".recording is missing");
            }
            if (recording.Type != MsgPackType.Bool)
            {
                throw new FormatException(StateKey + ".recording must be a bool, got " + MsgPackValue.TypeName(recording.Type));
            }
            MsgPackValue take;
            if (!map.TryGetValue("take", out take))
            {
                throw new FormatException(StateKey + ".take is missing");
            }
            if (take.Type != MsgPackType.Str)
            {
                throw new FormatException(StateKey + ".take must be a string, got " + MsgPackValue.TypeName(take.Type));
            }
            if (take.AsString.Length == 0)
            {
                throw new FormatException(StateKey + ".take is empty");
            }
            return new TakeState(recording.AsBool, take.AsString, OptionalString(map, "timecode"), OptionalString(map, "status"));
        }

        /// <summary>
        /// The take state a SESSION snapshot's <paramref name="state"/> holds: <see cref="NoTake"/> when it
        /// has no "bridge.take"; throws FormatException naming the field when the value is malformed.
        /// </summary>
        public static TakeState FromSnapshot(MsgPackMap state)
        {
            if (state == null) throw new ArgumentNullException("state");
            MsgPackValue value;
            return state.TryGetValue(StateKey, out value) ? FromStateValue(value) : NoTake;
        }

        /// <summary>
        /// What a server message says about the take state: false for anything but a SESSION snapshot or a
        /// STATE change of "bridge.take" made by the server (a change by an engine is not the server's
        /// word and is ignored); true with the state otherwise (a deletion reads as <see cref="NoTake"/>).
        /// Throws FormatException naming the field when the value is malformed.
        /// </summary>
        public static bool TryRead(BridgeMessage message, out TakeState state)
        {
            state = null;
            var snapshot = message as SessionEvent;
            if (snapshot != null)
            {
                if (snapshot.Event != SessionEvent.Snapshot) return false;
                state = FromSnapshot(snapshot.State);
                return true;
            }
            var change = message as StateChange;
            if (change == null || change.Key != StateKey || change.By != ServerAuthor) return false;
            state = change.Op == StateChange.OpDelete ? NoTake : FromStateValue(change.Value);
            return true;
        }

        private static string OptionalString(MsgPackMap map, string key)
        {
            MsgPackValue v;
            if (!map.TryGetValue(key, out v) || v.IsNil) return null;
            if (v.Type != MsgPackType.Str)
            {
                throw new FormatException(StateKey + "." + key + " must be a string or nil, got " + MsgPackValue.TypeName(v.Type));
            }
            return v.AsString;
        }

        public bool Equals(TakeState other)
        {
            if (ReferenceEquals(other, null)) return false;
            return Recording == other.Recording && Take == other.Take && Timecode == other.Timecode && Status == other.Status;
        }

        public override bool Equals(object obj)
        {
            return Equals(obj as TakeState);
        }

        public override int GetHashCode()
        {
            int h = Recording ? 1 : 0;
            h = h * 31 + (Take == null ? 0 : Take.GetHashCode());
            h = h * 31 + (Timecode == null ? 0 : Timecode.GetHashCode());
            return h * 31 + (Status == null ? 0 : Status.GetHashCode());
        }

        /// <summary>For people: "recording take 'scene-4' since 10:00:00:00", "take 'scene-4' complete", "no take recorded yet".</summary>
        public override string ToString()
        {
            if (Take == null) return Recording ? "recording" : "no take recorded yet";
            if (Recording) return "recording take '" + Take + "'" + (Timecode != null ? " since " + Timecode : "");
            return "take '" + Take + "' " + (Status ?? "stopped");
        }
    }
}
