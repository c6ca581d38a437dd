// Shared sessions (docs/protocol.md 6.12, 6.13): SESSION (server -> engines with the "session"
// capability: a snapshot after WELCOME, then join/leave events) and STATE (a small key-value
// store per session: an engine sets or deletes a key; the server sends the change as applied,
// with who made it and the state version, to every "session" engine, the sender included).
using System.Collections.Generic;

namespace MachinimaBridge.Protocol
{
    public sealed class SessionMember
    {
        public string EngineId;
        public string Engine;

        public MsgPackMap ToWire()
        {
            return new MsgPackMap(2).Add("engine_id", EngineId).Add("engine", Engine);
        }

        public static SessionMember FromWire(FieldReader r)
        {
            return new SessionMember { EngineId = r.Str("engine_id"), Engine = r.Str("engine") };
        }
    }

    public sealed class SessionEvent : BridgeMessage
    {
        public const string Snapshot = "snapshot";
        public const string Join = "join";
        public const string Leave = "leave";
        public static readonly string[] Events = { Snapshot, Join, Leave };

        public override string Kind { get { return MessageKinds.Session; } }

        public string Session;
        /// <summary>snapshot, join or leave.</summary>
        public string Event;
        /// <summary>snapshot: the receiver itself; join/leave: the engine that came or went.</summary>
        public string EngineId;
        public string Engine;
        public List<SessionMember> Members = new List<SessionMember>();
        /// <summary>snapshot: the whole shared state, key -> value (received order kept).</summary>
        public MsgPackMap State = new MsgPackMap();
        /// <summary>leave: bye, timeout, disconnected or replaced; else null.</summary>
        public string Reason;

        public override MsgPackMap ToHeader()
        {
            var members = new List<MsgPackValue>(Members.Count);
            foreach (SessionMember m in Members) members.Add(MsgPackValue.From(m.ToWire()));
            MsgPackMap h = Base(9)
                .Add("session", Session)
                .Add("event", Event)
                .Add("engine_id", EngineId)
                .Add("engine", Engine)
                .Add("members", MsgPackValue.From(members))
                .Add("state", State);
            if (Reason != null) h.Add("reason", Reason);
            return h;
        }

        public static SessionEvent FromHeader(FieldReader r)
        {
            string ev = r.Str("event");
            if (System.Array.IndexOf(Events, ev) < 0)
            {
                throw r.Fail("SESSION.event '" + ev + "' is not one of " + string.Join(", ", Events));
            }
            var message = new SessionEvent
            {
                Session = r.Str("session"),
                Event = ev,
                EngineId = r.Str("engine_id"),
                Engine = r.Str("engine"),
            };
            List<MsgPackValue> members = r.OptList("members");
            if (members != null)
            {
                for (int i = 0; i < members.Count; i++)
                {
                    message.Members.Add(SessionMember.FromWire(FieldReader.Of(members[i], "members[" + i + "]", MessageKinds.Session)));
                }
            }
            message.State = r.OptMapField("state") ?? new MsgPackMap();
            message.Reason = r.OptStr("reason");
            return message;
        }
    }

    public sealed class StateChange : BridgeMessage
    {
        public const string OpSet = "set";
        public const string OpDelete = "delete";
        public const int MaxKeyChars = 256;
        public const int MaxValueBytes = 16384;

        public override string Kind { get { return MessageKinds.State; } }

        public string Key;
        public string Op = OpSet;
        /// <summary>The new value for "set" (any msgpack value but bin, nil included); unused for "delete".</summary>
        public MsgPackValue Value = MsgPackValue.Nil;
        /// <summary>Server only: engine_id of the engine that made the change.</summary>
        public string By;
        /// <summary>Server only: the session's state version after this change.</summary>
        public long? Version;

        public override MsgPackMap ToHeader()
        {
            MsgPackMap h = Base(7).Add("key", Key).Add("op", Op);
            if (Op == OpSet) h.Add("value", Value ?? MsgPackValue.Nil);
            if (By != null) h.Add("by", By);
            if (Version.HasValue) h.Add("version", Version.Value);
            return h;
        }

        public static StateChange FromHeader(FieldReader r)
        {
            string key = r.Str("key");
            int chars = FieldReader.CodePoints(key);
            if (chars < 1 || chars > MaxKeyChars) throw r.Fail("STATE.key must be 1.." + MaxKeyChars + " characters");
            string op = r.StrOr("op", OpSet);
            if (op != OpSet && op != OpDelete) throw r.Fail("STATE.op '" + op + "' is not one of set, delete");
            MsgPackValue value = MsgPackValue.Nil;
            if (op == OpSet)
            {
                if (!r.Map.TryGetValue("value", out value)) throw r.Fail("STATE.value is missing (op 'set')");
                if (value.Type == MsgPackType.Bin) throw r.Fail("STATE.value must not be binary; use a string or numbers");
                int size = MsgPackWriter.Encode(value).Length;
                if (size > MaxValueBytes)
                {
                    throw new ProtocolException(ErrorCode.LIMIT_EXCEEDED,
                        "STATE.value of '" + key + "' is above " + MaxValueBytes + " bytes encoded", MessageKinds.State);
                }
            }
            return new StateChange
            {
                Key = key,
                Op = op,
                Value = value,
                By = r.OptStr("by"),
                Version = r.OptInt("version", 0),
            };
        }
    }
}
