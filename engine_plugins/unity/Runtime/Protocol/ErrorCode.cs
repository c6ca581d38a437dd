// Error codes of protocol v1 (docs/protocol.md, section 9) and the exception that carries one.
// The numbers are fixed for version 1 and match bridge/protocol/errors.py.
using System;

namespace MachinimaBridge.Protocol
{
    public enum ErrorCode
    {
        MALFORMED_HEADER = 1,
        BAD_VERSION = 2,
        UNKNOWN_KIND = 3,
        BAD_FIELD = 4,
        NOT_WELCOMED = 5,
        UNKNOWN_STREAM = 6,
        PLANE_MISMATCH = 7,
        FRAME_TOO_LARGE = 8,
        UNKNOWN_STAGE = 9,
        UNKNOWN_PARAM = 10,
        BAD_PARAM_VALUE = 11,
        PIPELINE_FAILED = 12,
        LIMIT_EXCEEDED = 13,
        UNSUPPORTED = 14,
        SHUTTING_DOWN = 15,
        TIMEOUT = 16,
    }

    public static class ErrorCodes
    {
        /// <summary>The wire name of a code ("PLANE_MISMATCH"), or "UNKNOWN_CODE_n" for numbers this version does not define.</summary>
        public static string NameOf(long code)
        {
            if (code >= 1 && code <= 16) return ((ErrorCode)(int)code).ToString();
            return "UNKNOWN_CODE_" + code;
        }
    }

    /// <summary>
    /// A message (or part of one) broke the protocol; <see cref="Code"/> says how. <see cref="Kind"/>,
    /// <see cref="Stream"/> and <see cref="Index"/> are set when the failure concerns one message kind,
    /// stream or frame.
    /// </summary>
    public sealed class ProtocolException : Exception
    {
        public ErrorCode Code { get; private set; }
        public string Detail { get; private set; }
        public string Kind { get; private set; }
        public long? Stream { get; private set; }
        public long? Index { get; private set; }

        public ProtocolException(ErrorCode code, string detail, string kind = null, long? stream = null, long? index = null)
            : base(code + ": " + detail)
        {
            Code = code;
            Detail = detail;
            Kind = kind;
            Stream = stream;
            Index = index;
        }
    }
}
