// Inspectors that show the live numbers while playing: connection state, per-stream frame
// rates, round-trip latency percentiles, server time and drops (and why frames were dropped);
// capture counters of StreamCamera and AudioStreamSender; what StylizedOutput and MocapReceiver
// last showed; the take of a TakeRecorderControl, with Start / Stop buttons.
using MachinimaBridge.Core;
using UnityEditor;
using UnityEngine;

namespace MachinimaBridge.Editor
{
    internal static class LiveSection
    {
        public static void Row(string label, string value)
        {
            EditorGUILayout.LabelField(label, value);
        }

        public static string Ms(double value)
        {
            return double.IsNaN(value) ? "-" : value.ToString("0.0") + " ms";
        }

        public static void Header(string title)
        {
            EditorGUILayout.Space();
            EditorGUILayout.LabelField(title, EditorStyles.boldLabel);
        }
    }

    [CustomEditor(typeof(BridgeConnection))]
    public sealed class BridgeConnectionEditor : UnityEditor.Editor
    {
        public override bool RequiresConstantRepaint()
        {
            return Application.isPlaying;
        }

        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            var connection = (BridgeConnection)target;
            if (!Application.isPlaying) return;
            BridgeSession session = connection.Session;
            LiveSection.Header("Live");
            if (session == null)
            {
                EditorGUILayout.HelpBox("Not connected (component disabled, or the settings were refused: see the Console).", MessageType.Info);
                return;
            }
            LiveSection.Row("State", session.State.ToString());
            if (session.Welcome != null)
            {
                LiveSection.Row("Server", session.Welcome.Server);
                LiveSection.Row("Engine id", session.Welcome.EngineId);
                LiveSection.Row("Heartbeat / timeout", session.Welcome.HeartbeatMs + " / " + session.Welcome.TimeoutMs + " ms");
            }
            LiveSection.Row("Reconnects", session.Reconnects.ToString());
            LiveSection.Row("Heartbeats sent", session.HeartbeatsSent.ToString());
            if (session.ParseErrors > 0) LiveSection.Row("Unparseable messages", session.ParseErrors.ToString());
            if (!string.IsNullOrEmpty(session.LastError)) EditorGUILayout.HelpBox(session.LastError, MessageType.Warning);

            if (connection.joinSharedSession)
            {
                LiveSection.Header("Shared session '" + connection.sessionName + "'");
                foreach (var member in connection.SessionMembers) LiveSection.Row(member.Key, member.Value);
                foreach (var entry in connection.SharedState) LiveSection.Row(entry.Key, entry.Value.ToString());
            }

            long now = MonotonicClock.NowNs();
            foreach (long id in session.StreamIds)
            {
                StreamCountersSnapshot s = session.Counters(id).Snapshot(now);
                string grant = "";
                if (session.Welcome != null)
                {
                    Protocol.StreamGrant g = session.Welcome.Grant(id);
                    if (g != null) grant = " (" + g.Pipeline + ": " + string.Join(" > ", g.Stages.ToArray()) + ")";
                }
                LiveSection.Header("Stream " + id + grant);
                LiveSection.Row("fps sent / results", s.SentFps.ToString("0.0") + " / " + s.ResultFps.ToString("0.0"));
                LiveSection.Row("Round trip p50 / p95 / p99", LiveSection.Ms(s.RttMsP50) + " / " + LiveSection.Ms(s.RttMsP95) + " / " + LiveSection.Ms(s.RttMsP99));
                LiveSection.Row("Server time (last)", (s.LastServerUs / 1000.0).ToString("0.0") + " ms");
                LiveSection.Row("Frames sent / results", s.FramesSent + " / " + s.ResultsReceived);
                LiveSection.Row("Dropped by server", s.ServerDropped.ToString());
                LiveSection.Row("Dropped here", s.LocalDrops + "  (replaced " + s.FramesReplacedBeforeSend + ", queue full "
                                + s.FramesRefusedQueueFull + ", offline " + s.FramesDroppedNotConnected + ", too large " + s.FramesTooLarge + ")");
                if (session.AudioFormatOf(id) != null)
                {
                    LiveSection.Row("Audio (" + session.AudioFormatOf(id) + ")", "chunks sent " + s.AudioChunksSent + " / submitted "
                                    + s.AudioChunksSubmitted + ", dropped " + s.AudioChunksDropped);
                }
            }
            EditorGUILayout.Space();
            if (GUILayout.Button("Reconnect (new HELLO)")) connection.Connect();
            if (GUILayout.Button("Request server STATS")) connection.RequestStats();
        }
    }

    [CustomEditor(typeof(StreamCamera))]
    public sealed class StreamCameraEditor : UnityEditor.Editor
    {
        public override bool RequiresConstantRepaint()
        {
            return Application.isPlaying;
        }

        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            if (!Application.isPlaying) return;
            var cam = (StreamCamera)target;
            LiveSection.Header("Capture");
            LiveSection.Row("Captured / submitted", cam.FramesCaptured + " / " + cam.FramesSubmitted);
            LiveSection.Row("Readbacks in flight", cam.ReadbacksInFlight.ToString());
            LiveSection.Row("Skipped (GPU busy)", cam.TicksSkippedGpuBusy.ToString());
            LiveSection.Row("Readback errors", cam.ReadbackErrors.ToString());
            if (!string.IsNullOrEmpty(cam.LastProblem)) EditorGUILayout.HelpBox(cam.LastProblem, MessageType.Warning);
        }
    }

    [CustomEditor(typeof(AudioStreamSender))]
    public sealed class AudioStreamSenderEditor : UnityEditor.Editor
    {
        public override bool RequiresConstantRepaint()
        {
            return Application.isPlaying;
        }

        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            if (!Application.isPlaying) return;
            var sender = (AudioStreamSender)target;
            LiveSection.Header("Audio");
            LiveSection.Row("Declared format", sender.DeclaredFormat == null ? "-" : sender.DeclaredFormat.ToString());
            LiveSection.Row("Chunks made / submitted", sender.ChunksMade + " / " + sender.ChunksSubmitted);
            LiveSection.Row("Dropped (offline, queue full)", sender.ChunksDropped.ToString());
            LiveSection.Row("Clock re-anchors", sender.ClockResyncs.ToString());
            if (!string.IsNullOrEmpty(sender.LastProblem)) EditorGUILayout.HelpBox(sender.LastProblem, MessageType.Warning);
        }
    }

    [CustomEditor(typeof(StylizedOutput))]
    public sealed class StylizedOutputEditor : UnityEditor.Editor
    {
        public override bool RequiresConstantRepaint()
        {
            return Application.isPlaying;
        }

        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            if (!Application.isPlaying) return;
            var output = (StylizedOutput)target;
            LiveSection.Header("Shown");
            LiveSection.Row("Results shown / skipped", output.ResultsShown + " / " + output.ResultsSkipped);
            LiveSection.Row("Last frame", output.LastIndex + (output.LastHeld ? " (held)" : ""));
            LiveSection.Row("Round trip at display", LiveSection.Ms(output.LastRoundTripMs));
            if (!string.IsNullOrEmpty(output.LastProblem)) EditorGUILayout.HelpBox(output.LastProblem, MessageType.Warning);
            if (output.Texture != null)
            {
                Rect r = GUILayoutUtility.GetAspectRect((float)output.Texture.width / output.Texture.height);
                EditorGUI.DrawPreviewTexture(r, output.Texture);
            }
        }
    }

    [CustomEditor(typeof(TakeRecorderControl))]
    public sealed class TakeRecorderControlEditor : UnityEditor.Editor
    {
        public override bool RequiresConstantRepaint()
        {
            return Application.isPlaying;
        }

        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            var control = (TakeRecorderControl)target;
            string next = control.NextTakeName();
            string problem = next == null ? null : TakeControl.NameProblem(next);
            if (problem != null) EditorGUILayout.HelpBox(problem, MessageType.Error);
            if (!Application.isPlaying) return;
            LiveSection.Header("Take");
            bool connected = control.connection != null && control.connection.Session != null
                             && control.connection.Session.State == SessionState.Welcomed;
            LiveSection.Row("State", control.IsRecording ? "RECORDING" : (control.PendingRequests > 0 ? "waiting for the server" : "not recording"));
            LiveSection.Row("Current take", control.CurrentTake ?? "-");
            LiveSection.Row("Server's take state", control.ServerTakeState != null ? control.ServerTakeState.ToString()
                                                     : "not heard (only this component's own requests show)");
            if (control.CurrentTakePath != null) LiveSection.Row("Folder (server)", control.CurrentTakePath);
            if (control.IsRecording && control.CurrentTakeTimecode != null) LiveSection.Row("Started at", control.CurrentTakeTimecode);
            if (!string.IsNullOrEmpty(control.LastMessage))
            {
                bool refused = control.LastAck != null && !control.LastAck.Ok;
                EditorGUILayout.HelpBox(control.LastMessage, refused ? MessageType.Warning : MessageType.Info);
            }
            if (!connected) EditorGUILayout.HelpBox("Not connected to the server: takes cannot start or stop.", MessageType.Info);
            using (new EditorGUI.DisabledScope(!connected || control.PendingRequests > 0))
            {
                EditorGUILayout.BeginHorizontal();
                using (new EditorGUI.DisabledScope(problem != null))
                {
                    if (GUILayout.Button("Start take" + (next != null ? " '" + next + "'" : ""))) control.StartTake();
                }
                if (GUILayout.Button("Stop take")) control.StopTake();
                EditorGUILayout.EndHorizontal();
            }
        }
    }

    [CustomEditor(typeof(MocapReceiver))]
    public sealed class MocapReceiverEditor : UnityEditor.Editor
    {
        public override bool RequiresConstantRepaint()
        {
            return Application.isPlaying;
        }

        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            if (!Application.isPlaying) return;
            var receiver = (MocapReceiver)target;
            LiveSection.Header("Mocap");
            LiveSection.Row("Performer", receiver.FollowedPerformer ?? "(none yet)");
            LiveSection.Row("Poses received / refused", receiver.PosesReceived + " / " + receiver.PosesRefused);
            LiveSection.Row("Pose age (clock offset included)", LiveSection.Ms(receiver.LastPoseAgeMs));
            if (!string.IsNullOrEmpty(receiver.LastProblem)) EditorGUILayout.HelpBox(receiver.LastProblem, MessageType.Warning);
        }
    }
}
