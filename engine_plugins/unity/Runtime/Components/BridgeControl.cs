// Sends CONTROL messages (change a stage parameter of a stream's pipeline) from scripts or UI,
// and reports each CONTROL_ACK: applied values, or the reason the server refused the change.
// UI hook-ups: a Slider's On Value Changed -> SetSliderValue(float), a Toggle -> SetToggleValue,
// a Button -> ApplyPreset(int) with presets configured in the inspector.
using System;
using System.Collections.Generic;
using System.Globalization;
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;
using UnityEngine;
using UnityEngine.Events;

namespace MachinimaBridge
{
    [Serializable]
    public sealed class ControlAckEvent : UnityEvent<bool, string>
    {
    }

    public enum PresetValueType
    {
        Float,
        Int,
        Bool,
        String,
        Floats,
    }

    [Serializable]
    public sealed class ControlPreset
    {
        public string label = "preset";
        public string stage = "stylize";
        public string parameter = "style";
        public PresetValueType type = PresetValueType.Int;
        [Tooltip("The value as text: 0.75, 12, true, ink wash, or 1 0.5 0.25 for Floats.")]
        public string value = "0";
        [Tooltip("Glide numeric values over this many milliseconds (0: at once).")]
        public float glideMs;
    }

    [AddComponentMenu("Machinima Bridge/Bridge Control")]
    public sealed class BridgeControl : MonoBehaviour
    {
        public BridgeConnection connection;
        [Tooltip("The stream whose pipeline to change.")]
        public int streamId;

        [Header("UI hook-ups")]
        public string sliderStage = "stylize";
        public string sliderParameter = "strength";
        public float sliderGlideMs;
        public string toggleStage = "film_look";
        public string toggleParameter = "interlace";
        public List<ControlPreset> presets = new List<ControlPreset>();

        [Tooltip("Raised for every CONTROL_ACK of this component's requests: (ok, applied values or the refusal reason).")]
        public ControlAckEvent onAck = new ControlAckEvent();

        public string LastAck { get; private set; }
        public int PendingRequests { get { return _pending.Count; } }

        private readonly Dictionary<long, Action<ControlAck>> _pending = new Dictionary<long, Action<ControlAck>>();

        private void Reset()
        {
            connection = FindObjectOfType<BridgeConnection>();
        }

        private void OnEnable()
        {
            if (connection != null) connection.ControlAcknowledged += OnAck;
        }

        private void OnDisable()
        {
            if (connection != null) connection.ControlAcknowledged -= OnAck;
            _pending.Clear();
        }

        /// <summary>Send one parameter change; <paramref name="onAck"/> gets the CONTROL_ACK. Returns the request_id (-1: not connected).</summary>
        public long Set(string stage, string parameter, object value, float glideMs = 0f, Action<ControlAck> onAck = null)
        {
            return Send(stage, ControlParams.Single(parameter, value), glideMs, onAck);
        }

        /// <summary>Send several parameters of one stage in one CONTROL.</summary>
        public long Send(string stage, MsgPackMap parameters, float glideMs = 0f, Action<ControlAck> onAck = null)
        {
            if (connection == null)
            {
                Debug.LogWarning("[machinima-bridge] BridgeControl on " + name + " has no connection", this);
                return -1;
            }
            long id = connection.SendControl(streamId, stage, parameters, glideMs > 0f ? (double?)glideMs : null);
            if (id >= 0) _pending[id] = onAck;
            return id;
        }

        public long SetFloat(string stage, string parameter, float value, float glideMs = 0f) { return Set(stage, parameter, value, glideMs); }
        public long SetInt(string stage, string parameter, int value) { return Set(stage, parameter, value); }
        public long SetBool(string stage, string parameter, bool value) { return Set(stage, parameter, value); }
        public long SetString(string stage, string parameter, string value) { return Set(stage, parameter, value); }
        public long SetFloats(string stage, string parameter, float[] values, float glideMs = 0f) { return Set(stage, parameter, values, glideMs); }

        public void SetSliderValue(float value)
        {
            SetFloat(sliderStage, sliderParameter, value, sliderGlideMs);
        }

        public void SetToggleValue(bool value)
        {
            SetBool(toggleStage, toggleParameter, value);
        }

        public void ApplyPreset(int index)
        {
            if (index < 0 || index >= presets.Count)
            {
                Debug.LogWarning("[machinima-bridge] no preset " + index + " (" + presets.Count + " configured)", this);
                return;
            }
            ControlPreset p = presets[index];
            object value;
            try
            {
                value = ParsePresetValue(p.type, p.value);
            }
            catch (FormatException e)
            {
                Debug.LogError("[machinima-bridge] preset '" + p.label + "': " + e.Message, this);
                return;
            }
            Set(p.stage, p.parameter, value, p.glideMs);
        }

        /// <summary>A preset's text value as the typed value CONTROL sends; throws FormatException naming the text.</summary>
        public static object ParsePresetValue(PresetValueType type, string text)
        {
            CultureInfo c = CultureInfo.InvariantCulture;
            try
            {
                switch (type)
                {
                    case PresetValueType.Float: return float.Parse(text, NumberStyles.Float, c);
                    case PresetValueType.Int: return int.Parse(text, NumberStyles.Integer, c);
                    case PresetValueType.Bool: return bool.Parse(text);
                    case PresetValueType.String: return text;
                    default:
                        string[] items = text.Split(new[] { ' ', ',' }, StringSplitOptions.RemoveEmptyEntries);
                        var values = new float[items.Length];
                        for (int i = 0; i < items.Length; i++) values[i] = float.Parse(items[i], NumberStyles.Float, c);
                        return values;
                }
            }
            catch (FormatException)
            {
                throw new FormatException("'" + text + "' is not a " + type + " value");
            }
        }

        private void OnAck(ControlAck ack)
        {
            Action<ControlAck> callback;
            if (!_pending.TryGetValue(ack.RequestId, out callback)) return; // another component's request
            _pending.Remove(ack.RequestId);
            LastAck = ack.Ok ? "applied " + ack.Applied : "refused (" + ErrorCodes.NameOf(ack.Code ?? 0) + "): " + ack.Reason;
            if (!ack.Ok) Debug.LogWarning("[machinima-bridge] CONTROL " + ack.RequestId + " " + LastAck, this);
            if (callback != null) callback(ack);
            onAck.Invoke(ack.Ok, ack.Ok ? ack.Applied.ToString() : ack.Reason);
        }
    }
}
