"""``machinima-bridge takes list|show|export|rerender`` (wired into ``bridge.cli`` with ``add_subcommands``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger("machinima_bridge.takes")

DEFAULT_TAKES_DIR = "takes"


class ProgressBar:
    """``[#####.....]  123/456  27%  4.5 fps  ETA 00:01:14`` on one terminal line (stderr)."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30, min_interval_s: float = 0.2) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self._started = time.perf_counter()

    @staticmethod
    def format(label: str, done: int, total: int, elapsed_s: float, width: int = 30) -> str:
        fraction = done / total if total else 1.0
        filled = int(round(width * min(1.0, fraction)))
        fps = done / elapsed_s if elapsed_s > 0 else 0.0
        if done >= total:
            eta = "done"
        elif fps > 0:
            eta = "ETA " + _clock((total - done) / fps)
        else:
            eta = "ETA --:--:--"
        return (f"{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {fraction * 100:3.0f}% "
                f"{fps:5.1f} fps {eta}")

    def update(self, done: int, total: int, elapsed_s: float | None = None) -> None:
        now = time.perf_counter()
        if done < total and now - self._last < self.min_interval_s:
            return
        self._last = now
        elapsed = now - self._started if elapsed_s is None else elapsed_s
        self.stream.write("\r" + self.format(self.label, done, total, elapsed, self.width) + "  ")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _guarded(command):
    """Report a missing or damaged take as one error line (exit 2), not a traceback."""

    def run(args: argparse.Namespace) -> int:
        from bridge.takes.layout import TakeFormatError

        try:
            return int(command(args) or 0)
        except (FileNotFoundError, TakeFormatError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    run.__name__ = command.__name__
    return run


def _reader(args: argparse.Namespace, repair: bool = True):
    from bridge.takes.reader import TakeReader, resolve_take

    return TakeReader(resolve_take(args.take, args.takes_dir), repair=repair)


def _cmd_list(args: argparse.Namespace) -> int:
    from bridge.takes.reader import list_takes

    infos = list_takes(args.takes_dir)
    if args.json:
        print(json.dumps([_info_dict(info) for info in infos]))
        return 0
    if not infos:
        print(f"no takes in {args.takes_dir}")
        return 0
    print(f"{'take':32s} {'status':12s} {'start':12s} {'length':>8s} {'streams':>7s} {'in':>7s} {'out':>7s} "
          f"{'controls':>8s} {'poses':>7s}")
    for info in infos:
        print(f"{info.name:32.32s} {info.status:12s} {info.start_timecode:12s} {info.duration_s:7.1f}s "
              f"{len(info.streams):7d} {info.input_frames:7d} {info.output_frames:7d} {info.controls:8d} "
              f"{info.mocap_poses:7d}")
    return 0


def _info_dict(info: Any) -> dict[str, Any]:
    data = dataclasses.asdict(info)
    data["path"] = str(info.path)
    return data


def _cmd_show(args: argparse.Namespace) -> int:
    reader = _reader(args)
    info = reader.info()
    if args.json:
        print(json.dumps({"info": _info_dict(info), "manifest": reader.manifest}))
        return 0
    print(f"take      {info.name}  ({info.path})")
    print(f"status    {info.status}" + (f": {info.failure}" if info.failure else ""))
    print(f"start     {info.start_timecode} at {reader.fps_hint:g} fps, length {info.duration_s:.2f} s")
    for key, summary in info.streams.items():
        pipeline = reader.pipelines.get(key, {})
        stages = " > ".join(str(s.get("type")) for s in pipeline.get("stage", [])) if isinstance(pipeline, dict) else ""
        print(f"stream    {key}: {summary.input_frames} input, {summary.output_frames} output frames, "
              f"{summary.audio_chunks} audio chunks, {summary.segments} segments, "
              f"indices {summary.first_index}..{summary.last_index}"
              + (f", pipeline {pipeline.get('name', '?')} [{stages}]" if pipeline else ""))
    print(f"controls  {info.controls}")
    for performer, count in sorted(info.performers.items()):
        print(f"mocap     {performer}: {count} poses")
    recovery = reader.manifest.get("recovery")
    if recovery:
        left_out = ", ".join(recovery.get("partial_files_left_out", [])) or "nothing"
        print(f"recovered {recovery.get('reason')}; left out: {left_out}")
    return 0


def _cmd_compact(args: argparse.Namespace) -> int:
    from bridge.takes.compactor import compact_take
    from bridge.takes.reader import resolve_take

    path = resolve_take(args.take, args.takes_dir)
    try:
        results = compact_take(path)
    except RuntimeError as exc:  # being recorded: its own recorder compacts it
        print(f"error: {exc}", file=sys.stderr)
        return 2
    done = [r for r in results if r.raw_file is not None]
    raw = sum(r.raw_bytes for r in done)
    final = sum(r.final_bytes for r in done)
    print(f"take {path.name}: {len(done)} raw segments re-encoded ({raw / 2**20:.1f} MiB -> {final / 2**20:.1f} MiB)")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from bridge.takes.export import export_take

    reader = _reader(args)
    out_dir = Path(args.out) if args.out else Path(args.takes_dir) / "exports" / reader.name
    bars: dict[str, ProgressBar] = {}

    def progress(label: str, done: int, total: int) -> None:
        bar = bars.get(label)
        if bar is None:
            if bars:
                list(bars.values())[-1].close()
            bar = bars[label] = ProgressBar(f"export {label}")
        bar.update(done, total)

    result = export_take(reader, out_dir, inputs=args.inputs, crf=args.crf, progress=None if args.quiet else progress)
    if bars:
        list(bars.values())[-1].close()
    for path in result.files:
        print(path)
    if not result.files:
        print(f"take {reader.name} holds nothing to export", file=sys.stderr)
        return 1
    return 0


def _cmd_rerender(args: argparse.Namespace) -> int:
    from bridge.pipeline_config import PipelineConfig, PipelineConfigError
    from bridge.takes.rerender import RerenderError, RerenderProgress, recorded_pipeline, rerender

    reader = _reader(args)
    try:
        if args.pipeline == "recorded":
            config = recorded_pipeline(reader, args.stream)
        else:
            config = PipelineConfig.load(args.pipeline)
    except (PipelineConfigError, RerenderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(args.takes_dir) / "renders" / f"{reader.name}.{config.name}.mp4"
    bar = None if args.quiet else ProgressBar(f"rerender {reader.name} > {config.name}")

    def progress(p: RerenderProgress) -> None:
        if bar is not None:
            bar.update(p.done, p.total, p.elapsed_s)

    try:
        report = rerender(reader, config, out, progress, stream_key=args.stream, scale=args.scale, crf=args.crf)
    except RerenderError as exc:
        if bar is not None:
            bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if bar is not None:
        bar.close()
    for control, reason in report.controls_skipped:
        print(f"skipped control {control.stage} {control.params} before frame {control.input_index}: {reason}",
              file=sys.stderr)
    print(f"{report.out_path}: {report.frames_written} frames ({report.width}x{report.height}) from stream "
          f"{report.stream!r} through {report.pipeline}, {len(report.controls_applied)} controls applied, "
          f"{report.elapsed_s:.1f} s")
    return 0


def add_subcommands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``takes`` with its ``list``, ``show``, ``export``, ``compact`` and ``rerender`` subcommands."""
    takes = subparsers.add_parser("takes", help="list, inspect, export, compact and re-render recorded takes")
    takes.add_argument("--takes-dir", default=DEFAULT_TAKES_DIR, help="folder holding the takes (default: ./takes)")
    sub = takes.add_subparsers(dest="takes_command", required=True)
    # also accepted after the subcommand (SUPPRESS: an absent one must not hide the one given before it)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--takes-dir", default=argparse.SUPPRESS, help="folder holding the takes (default: ./takes)")

    p = sub.add_parser("list", parents=[common], help="every take with its status, length and contents")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_guarded(_cmd_list))

    p = sub.add_parser("show", parents=[common],
                       help="one take's manifest (rebuilds it if the recording process was killed)")
    p.add_argument("take", help="take name (under --takes-dir) or path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_guarded(_cmd_show))

    p = sub.add_parser("export", parents=[common],
                       help="MP4 per stream (+ WAV if audio was sent) and BVH per performer")
    p.add_argument("take", help="take name (under --takes-dir) or path")
    p.add_argument("--out", help="output folder (default: <takes-dir>/exports/<take>)")
    p.add_argument("--inputs", action="store_true", help="also export the engine's input pictures")
    p.add_argument("--crf", type=int, default=16, help="H.264 quality (lower is better, default 16)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_guarded(_cmd_export))

    p = sub.add_parser("compact", parents=[common],
                       help="re-encode segments a take still holds raw (after a crash; recorders do it themselves)")
    p.add_argument("take", help="take name (under --takes-dir) or path")
    p.set_defaults(func=_guarded(_cmd_compact))

    p = sub.add_parser("rerender", parents=[common],
                       help="replay a take's inputs, controls and mocap through a pipeline, no drops")
    p.add_argument("take", help="take name (under --takes-dir) or path")
    p.add_argument("--pipeline", required=True,
                   help="pipeline TOML path, builtin:NAME, or 'recorded' (the pipeline that was live)")
    p.add_argument("--out", help="output .mp4 (H.264) or .mkv (lossless); "
                   "default <takes-dir>/renders/<take>.<pipeline>.mp4")
    p.add_argument("--stream", help="stream key (default: the take's first stream)")
    p.add_argument("--scale", type=float, default=1.0, help="resize the recorded inputs by this factor first")
    p.add_argument("--crf", type=int, default=16, help="H.264 quality for .mp4 output (default 16)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_guarded(_cmd_rerender))
    return takes


def main(argv: list[str] | None = None) -> int:
    """Run ``takes ...`` on its own (``python -m bridge.takes.cli``); the project CLI calls ``add_subcommands``."""
    parser = argparse.ArgumentParser(prog="machinima-bridge")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
