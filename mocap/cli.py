"""``machinima-bridge mocap listen|play|record``: argparse subcommands for the lead to wire in.

`add_subcommands(subparsers)` adds a ``mocap`` command (the ``webcam`` subcommand belongs to
the markerless capture module and the relay to the server; neither is here):

* ``mocap listen [--xsens PORT] [--vmc PORT] [--live-link-face PORT] [--move-live HOST:PORT]
  [--seconds S]`` — prints live performers, their rates and the age of their latest pose
  (receive-to-print latency) once a second.
* ``mocap play FILE.bvh --to vmc://HOST:PORT [--loop] [--speed X] [--units-per-m U]`` — plays
  a BVH take to a VMC Marionette at the file's frame rate.
* ``mocap record --bvh FILE (--xsens PORT | --vmc PORT | --live-link-face PORT)
  [--performer ID] [--seconds S] [--fps F]`` — records one performer to BVH.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Any
from urllib.parse import urlparse

from mocap.source import MocapSource

log = logging.getLogger(__name__)


def _open_sources(args: argparse.Namespace) -> list[MocapSource]:
    sources: list[MocapSource] = []
    if getattr(args, "xsens", None) is not None:
        from mocap.xsens_mvn import XsensMvnSource

        sources.append(XsensMvnSource(port=args.xsens))
    if getattr(args, "vmc", None) is not None:
        from mocap.vmc import VmcMarionetteSource

        sources.append(VmcMarionetteSource(port=args.vmc, per_sender=True))
    if getattr(args, "live_link_face", None) is not None:
        from mocap.live_link_face import LiveLinkFaceSource

        sources.append(LiveLinkFaceSource(port=args.live_link_face))
    if getattr(args, "move_live", None):
        from mocap.move_live import MoveLiveSource

        sources.append(MoveLiveSource(args.move_live))
    return sources


def format_performer_table(sources: list[MocapSource], now_ns: int) -> str:
    """One line per performer: source, id, poses, rate and age of the latest pose."""
    lines = []
    for source in sources:
        stats = source.stats()
        for performer, info in sorted(stats.performers.items()):
            age_ms = (now_ns - info.last_timestamp_ns) / 1e6 if info.last_timestamp_ns else float("nan")
            lines.append(
                f"{source.name:>14}  {performer:<24} {info.poses:>8} poses  {info.rate_hz:7.1f} Hz  latest {age_ms:8.1f} ms ago"
            )
        if stats.rejected:
            lines.append(f"{source.name:>14}  {stats.rejected} rejected, last: {stats.last_reject_reason}")
    return "\n".join(lines) if lines else "(no performers yet)"


def _cmd_listen(args: argparse.Namespace) -> int:
    sources = _open_sources(args)
    if not sources:
        print("mocap listen: give at least one of --xsens, --vmc, --live-link-face, --move-live", file=sys.stderr)
        return 2
    for source in sources:
        source.start()
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(1.0)
            print(format_performer_table(sources, time.time_ns()), flush=True)
            print("-" * 80, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        for source in sources:
            source.stop()
    return 0


def _cmd_webcam(args: argparse.Namespace) -> int:
    from mocap.markerless.webcam_source import WebcamPoseSource

    camera: int | str = args.video if args.video else args.camera
    try:
        source = WebcamPoseSource(camera, performer_id=args.performer, mirror=args.mirror, pace=bool(args.video),
                                  loop=args.loop)
    except (OSError, ValueError) as exc:
        print(f"mocap webcam: {exc}", file=sys.stderr)
        return 2
    sender = None
    if args.to:
        from mocap.vmc import VmcPerformerSender

        sender = VmcPerformerSender(*parse_vmc_url(args.to))
        source.add_listener(sender.send_pose)
    source.start()
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(1.0)
            print(format_performer_table([source], time.time_ns()), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        source.stop()
        if sender is not None:
            sender.close()
    return 0


def parse_vmc_url(url: str) -> tuple[str, int]:
    """``vmc://host:port`` -> (host, port); raises ValueError naming what is wrong."""
    parsed = urlparse(url)
    if parsed.scheme != "vmc" or not parsed.hostname or parsed.port is None:
        raise ValueError(f"expected vmc://HOST:PORT, got {url!r}")
    return parsed.hostname, parsed.port


def _cmd_play(args: argparse.Namespace) -> int:
    from mocap.bvh import BvhFormatError, BvhPlayerSource
    from mocap.vmc import VmcPerformerSender

    try:
        host, port = parse_vmc_url(args.to)
        player = BvhPlayerSource(args.file, performer_id="bvh", units_per_m=args.units_per_m, loop=args.loop, speed=args.speed)
    except (ValueError, FileNotFoundError, BvhFormatError) as error:
        print(f"mocap play: {error}", file=sys.stderr)
        return 2
    sender = VmcPerformerSender(host, port)
    player.add_listener(sender.send_pose)
    print(f"playing {args.file} ({player.frame_count} frames at {player.bvh.frame_rate_hz:.1f} Hz) to vmc://{host}:{port}")
    player.start()
    try:
        while not player.finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        player.stop()
        sender.close()
    print(f"sent {player.stats().poses} poses")
    return 0


def _cmd_record(args: argparse.Namespace) -> int:
    from mocap.bvh import BvhRecorder

    sources = _open_sources(args)
    if len(sources) != 1:
        print("mocap record: give exactly one of --xsens, --vmc, --live-link-face, --move-live", file=sys.stderr)
        return 2
    source = sources[0]
    recorder = BvhRecorder(args.performer)
    source.add_listener(recorder)
    source.start()
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    print(f"recording {args.performer or 'the first performer'} to {args.bvh}; Ctrl-C to stop")
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
            if recorder.performer_id is None and source.stats().performers:
                recorder.performer_id = next(iter(source.stats().performers))
    except KeyboardInterrupt:
        pass
    finally:
        source.stop()
    try:
        frames = recorder.write(args.bvh, frame_time_s=1.0 / args.fps)
    except ValueError as error:
        print(f"mocap record: {error}", file=sys.stderr)
        return 1
    print(f"wrote {frames} frames to {args.bvh}")
    return 0


def _add_source_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--xsens", type=int, metavar="PORT", help="Xsens MVN network streamer UDP port (9763)")
    parser.add_argument("--vmc", type=int, metavar="PORT", help="VMC Marionette UDP port (39539)")
    parser.add_argument("--live-link-face", type=int, metavar="PORT", help="Live Link Face UDP port (11111)")
    parser.add_argument("--move-live", metavar="HOST:PORT", help="Move Live gRPC server (e.g. 127.0.0.1:54321)")
    parser.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")


def add_subcommands(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``mocap`` with listen/play/webcam/record to an argparse subparsers object; returns its parser."""
    mocap = subparsers.add_parser("mocap", help="motion capture sources, BVH playback and recording")
    commands = mocap.add_subparsers(dest="mocap_command", required=True)

    listen = commands.add_parser("listen", help="show live performers, rates and latency")
    _add_source_args(listen)
    listen.set_defaults(func=_cmd_listen)

    play = commands.add_parser("play", help="play a BVH file to a VMC receiver")
    play.add_argument("file", help="BVH file")
    play.add_argument("--to", required=True, metavar="vmc://HOST:PORT")
    play.add_argument("--loop", action="store_true")
    play.add_argument("--speed", type=float, default=1.0)
    play.add_argument("--units-per-m", type=float, default=100.0, help="BVH length units per metre (100 = cm)")
    play.set_defaults(func=_cmd_play)

    webcam = commands.add_parser("webcam", help="markerless body capture from a webcam or a video file")
    webcam.add_argument("--camera", type=int, default=0, help="camera index (default 0)")
    webcam.add_argument("--video", help="read this video file instead of a camera (paced at its frame rate)")
    webcam.add_argument("--loop", action="store_true", help="loop the video file")
    webcam.add_argument("--mirror", action="store_true", help="mirror the picture (selfie view)")
    webcam.add_argument("--performer", default="webcam", help="performer id")
    webcam.add_argument("--to", metavar="vmc://HOST:PORT", help="also send the poses as VMC")
    webcam.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    webcam.set_defaults(func=_cmd_webcam)

    record = commands.add_parser("record", help="record one performer to BVH")
    record.add_argument("--bvh", required=True, metavar="FILE")
    record.add_argument("--performer", help="performer id (default: the first one seen)")
    record.add_argument("--fps", type=float, default=60.0, help="BVH frame rate (default 60)")
    _add_source_args(record)
    record.set_defaults(func=_cmd_record)
    return mocap


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point (``python -m mocap.cli mocap ...``) until the lead wires it into bridge.cli."""
    parser = argparse.ArgumentParser(prog="mocap")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
