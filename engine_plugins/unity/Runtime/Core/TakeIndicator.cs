// What a REC indicator shows: whether the server records a take, which one, since when, and (for
// takes this engine started or stopped) its folder. Fed from two sources that tell the same story:
// the answers to this engine's own take requests (TakeAck) and the server's take state (TakeState,
// from STATE "bridge.take" and the SESSION snapshot: takes started or stopped by anyone). Started
// and Stopped are raised on a change only, so an own start (its ack, then the server's STATE) is
// reported once. Not thread-safe: feed it from one thread (TakeRecorderControl: the game thread).
using System;

namespace MachinimaBridge.Core
{
    public sealed class TakeIndicator
    {
        /// <summary>True while the server records a take, as last heard.</summary>
        public bool IsRecording { get; private set; }

        /// <summary>The take recording, or the last one recorded; null when none is known.</summary>
        public string Take { get; private set; }

        /// <summary>While recording: the SMPTE timecode of the take's first instant, when known.</summary>
        public string Timecode { get; private set; }

        /// <summary>The take's folder on the server, known from the answer to this engine's own start or stop.</summary>
        public string Path { get; private set; }

        /// <summary>A take started (or was found recording): its name.</summary>
        public event Action<string> Started;

        /// <summary>The take shown as recording stopped: its name.</summary>
        public event Action<string> Stopped;

        /// <summary>The server's take state (any source).</summary>
        public void Apply(TakeState state)
        {
            if (state == null) throw new ArgumentNullException("state");
            Show(state.Recording, state.Take, state.Timecode);
        }

        /// <summary>The answer to this engine's own start or stop; a refused stop means no take records.</summary>
        public void Apply(TakeAck ack)
        {
            if (ack == null) throw new ArgumentNullException("ack");
            if (!ack.Ok)
            {
                if (!ack.Record && ack.Code.HasValue) Show(false, null, null);
                return;
            }
            Show(ack.Record, ack.Take, ack.Record ? ack.Timecode : null);
            if (ack.Take != null && ack.Path != null) Path = ack.Path;
        }

        /// <summary>
        /// <paramref name="take"/> null: the name is not known (keep the one shown). A new take while one was
        /// shown recording reports the old one stopped first.
        /// </summary>
        private void Show(bool recording, string take, string timecode)
        {
            bool wasRecording = IsRecording;
            string shownTake = Take;
            bool sameTake = take == null || take == shownTake;
            if (!sameTake) Path = null; // the folder known belongs to another take
            if (take != null) Take = take;
            IsRecording = recording;
            if (recording && (timecode != null || !sameTake)) Timecode = timecode;
            if (wasRecording && (!recording || !sameTake) && Stopped != null) Stopped(shownTake);
            if (recording && (!wasRecording || !sameTake) && Started != null) Started(Take);
        }

        /// <summary>For people: "RECORDING 'scene-4' since 10:00:00:00", "not recording (last take 'scene-4')".</summary>
        public override string ToString()
        {
            if (IsRecording) return "RECORDING" + (Take != null ? " '" + Take + "'" : "") + (Timecode != null ? " since " + Timecode : "");
            return "not recording" + (Take != null ? " (last take '" + Take + "')" : "");
        }
    }
}
