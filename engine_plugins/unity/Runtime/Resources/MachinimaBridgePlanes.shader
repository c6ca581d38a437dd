// Planes for StreamCamera (docs/protocol.md 5.2), drawn with Blit:
//   pass 0: linear eye-space depth in metres from the camera's depth texture; no surface (sky,
//           the far plane) is +Infinity. Reversed-Z and conventional depth buffers both handled.
//   pass 1: actor coverage from the alpha of the actor-only render (255 = actor).
// In Resources so player builds include it (StreamCamera finds it with Shader.Find).
Shader "Hidden/MachinimaBridge/Planes"
{
    Properties
    {
        _MainTex ("Texture", 2D) = "black" {}
    }
    SubShader
    {
        Cull Off ZWrite Off ZTest Always

        Pass
        {
            Name "LinearEyeDepth"
            CGPROGRAM
            #pragma vertex vert_img
            #pragma fragment frag
            #include "UnityCG.cginc"

            UNITY_DECLARE_DEPTH_TEXTURE(_CameraDepthTexture);

            float4 frag (v2f_img i) : SV_Target
            {
                float raw = SAMPLE_DEPTH_TEXTURE(_CameraDepthTexture, i.uv);
            #if defined(UNITY_REVERSED_Z)
                bool sky = raw <= 0.0;
            #else
                bool sky = raw >= 1.0;
            #endif
                float metres = sky ? asfloat(0x7F800000) : LinearEyeDepth(raw);
                return float4(metres, 0, 0, 1);
            }
            ENDCG
        }

        Pass
        {
            Name "ActorMask"
            CGPROGRAM
            #pragma vertex vert_img
            #pragma fragment frag
            #include "UnityCG.cginc"

            sampler2D _MainTex;

            float4 frag (v2f_img i) : SV_Target
            {
                float coverage = saturate(tex2D(_MainTex, i.uv).a);
                return float4(coverage, coverage, coverage, 1);
            }
            ENDCG
        }
    }
    Fallback Off
}
