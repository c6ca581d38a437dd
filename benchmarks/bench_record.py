"""Live fps of the default stylize pipeline without vs with a take being recorded (see bridge/takes/record_bench.py).

Run: `.venv/bin/python benchmarks/bench_record.py [--json] [--seconds 5] [--rounds 3]`
(the same as `machinima-bridge bench record` once the CLI wires it).  Target: ratio >= 0.95.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured phase")
    parser.add_argument("--rounds", type=int, default=3, help="without/with phase pairs")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--pipeline", default="default", help="built-in pipeline name")
    parser.add_argument("--planes", action="store_true", help="also send (and record) float32 depth and a mask")
    parser.add_argument("--fast-lossless", action="store_true",
                        help="record inputs with HuffYUV (less CPU, ~3x the disk) instead of libx264rgb")
    parser.add_argument("--writer-nice", type=int, default=5, help="how much lower the writer threads run")
    parser.add_argument("--live-encoding", action="store_true",
                        help="encode while recording instead of writing raw and compacting at idle priority")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from bridge.takes.record_bench import run_record_bench
    from bridge.takes.segments import EncodingSettings

    encoding = EncodingSettings.fast_lossless() if args.fast_lossless else EncodingSettings()
    if args.live_encoding:
        encoding = dataclasses.replace(encoding, deferred=False)
    result = run_record_bench(args.width, args.height, seconds=args.seconds, rounds=args.rounds,
                              pipeline=args.pipeline, planes=args.planes, writer_nice=args.writer_nice,
                              encoding=encoding)
    if args.json:
        print(json.dumps(dataclasses.asdict(result)))
    else:
        print(f"live fps without recording {result.live_fps_without_recording:.2f} | with recording "
              f"{result.live_fps_with_recording:.2f} | ratio {result.ratio:.3f} | {result.width}x{result.height} "
              f"{result.pipeline}{' + depth/mask' if result.planes else ''}, "
              f"{result.rounds} x {result.seconds_per_phase:g} s per phase")
        print(f"process CPU per frame {result.cpu_ms_per_frame_without:.1f} ms without, "
              f"{result.cpu_ms_per_frame_with:.1f} ms with (writers {result.writer_cpu_ms_per_frame:.1f} ms) | "
              f"hook call p50 {result.hook_us_p50:.0f} us, "
              f"p99 {result.hook_us_p99:.0f} us | take {result.take_mib_per_s:.1f} MiB/s, peak queue "
              f"{result.peak_queue_mib:.1f} MiB | recorded {result.recorded_input_frames} in / "
              f"{result.recorded_output_frames} out" + (f" | FAILED: {result.recording_failed}"
                                                         if result.recording_failed else ""))
        print(f"encoding {result.encoding}: compactor CPU {result.compactor_cpu_ms_per_frame:.1f} ms per frame, "
              f"{result.compaction_failures} failures, {result.compaction_wait_s:.1f} s of compaction between phases")
        if result.ratio_with_live_compaction is not None:
            print(f"compacting beside the live stream (policy 'always'): {result.live_fps_with_live_compaction:.2f} fps, "
                  f"ratio {result.ratio_with_live_compaction:.3f}, {result.raw_segments_at_stop} segments still raw at "
                  "the end of those phases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
