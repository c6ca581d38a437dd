// Shows a stream's RESULT frames: the newest RESULT each frame is uploaded into a Texture2D
// (rows packed from the plane's stride and flipped to Unity's bottom-up order) and shown on a
// RawImage, copied into a RenderTexture (for materials) and/or drawn over the whole screen.
// Older RESULTs that arrived within the same frame are skipped (counted), never queued.
using MachinimaBridge.Core;
using MachinimaBridge.Protocol;
using UnityEngine;
using UnityEngine.UI;

namespace MachinimaBridge
{
    [AddComponentMenu("Machinima Bridge/Stylized Output")]
    public sealed class StylizedOutput : MonoBehaviour
    {
        public BridgeConnection connection;

        [Tooltip("The stream whose RESULTs to show (a StreamCamera's streamId).")]
        public int streamId;

        [Tooltip("Optional: a UI RawImage that shows the result.")]
        public RawImage rawImage;

        [Tooltip("Optional: a RenderTexture the result is copied into (use it in materials).")]
        public RenderTexture renderTexture;

        [Tooltip("Draw the result over the whole screen, letterboxed.")]
        public bool fullscreen = true;

        [Tooltip("Rows of a RESULT plane start at the top; Unity textures start at the bottom.")]
        public bool flipVertically = true;

        public Texture2D Texture { get; private set; }
        public long ResultsShown { get; private set; }
        public long ResultsSkipped { get; private set; }
        public long LastIndex { get; private set; }
        public bool LastHeld { get; private set; }
        public double LastRoundTripMs { get; private set; }
        public string LastProblem { get; private set; }

        private byte[] _upload;

        private void Reset()
        {
            connection = FindObjectOfType<BridgeConnection>();
        }

        private static TextureFormat TextureFormatFor(string wireFormat)
        {
            switch (wireFormat)
            {
                case PixelFormats.BGRA8: return TextureFormat.BGRA32;
                case PixelFormats.RGB8: return TextureFormat.RGB24;
                default: return TextureFormat.RGBA32;
            }
        }

        private void Update()
        {
            if (connection == null) return;
            Result result;
            long overwritten;
            if (!connection.TryTakeLatestResult(streamId, out result, out overwritten)) return;
            ResultsSkipped += overwritten;
            Plane color = result.Plane(PlaneKinds.Color);
            if (color == null)
            {
                LastProblem = "RESULT " + result.Index + " has no colour plane";
                return;
            }
            Show(color);
            ResultsShown++;
            LastIndex = result.Index;
            LastHeld = result.Held;
            LastRoundTripMs = (MonotonicClock.NowNs() - result.TCaptureNs) / 1e6;
        }

        private void Show(Plane color)
        {
            PlaneDescriptor d = color.Descriptor;
            TextureFormat format = TextureFormatFor(d.Format);
            if (Texture == null || Texture.width != d.Width || Texture.height != d.Height || Texture.format != format)
            {
                if (Texture != null) Destroy(Texture);
                Texture = new Texture2D(d.Width, d.Height, format, false, false)
                {
                    name = "machinima-bridge result " + streamId,
                    wrapMode = TextureWrapMode.Clamp,
                    filterMode = FilterMode.Bilinear,
                };
                _upload = new byte[d.RowBytes * d.Height];
            }
            PlaneRows.PackForUpload(color, _upload, flipVertically);
            Texture.LoadRawTextureData(_upload);
            Texture.Apply(false, false);
            if (rawImage != null) rawImage.texture = Texture;
            if (renderTexture != null) Graphics.Blit(Texture, renderTexture);
        }

        private void OnGUI()
        {
            if (!fullscreen || Texture == null || Event.current.type != EventType.Repaint) return;
            GUI.DrawTexture(new Rect(0, 0, Screen.width, Screen.height), Texture, ScaleMode.ScaleToFit, false);
        }

        private void OnDestroy()
        {
            if (Texture != null) Destroy(Texture);
        }
    }
}
