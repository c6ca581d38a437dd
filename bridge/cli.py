"""``machinima-bridge``: serve, simulate, demo, doctor, bench, pipelines."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

log = logging.getLogger("machinima_bridge")


def _add_logging_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument("--log-format", default="text", choices=["text", "json"], help="json: one object per line")


def _cmd_serve(args: argparse.Namespace) -> int:
    from bridge.logging_setup import configure_logging
    from bridge.pipeline_config import PipelineConfigError
    from bridge.server import BridgeServer
    from bridge.server_config import ServerConfig, ServerConfigError

    configure_logging(args.log_level, args.log_format)
    try:
        config = ServerConfig.load(args.config) if args.config else ServerConfig()
        if args.endpoint:
            config.endpoints = list(args.endpoint)
        if args.osc_port is not None:
            config.osc_enabled, config.osc_port = True, args.osc_port
        if args.no_osc:
            config.osc_enabled = False
        config.validate()
        if args.takes_dir:
            config.takes_dir = args.takes_dir
        server = BridgeServer(config)
    except (ServerConfigError, PipelineConfigError) as exc:
        log.error("%s", exc)
        return 2
    try:
        server.start()
        if args.record is not None:
            server.start_take(args.record or None)
    except (OSError, ValueError) as exc:
        log.error("%s", exc)
        server.stop()
        return 2
    server.serve_forever()
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from bridge.client import BridgeClientError
    from bridge.engine_simulator import EngineSimulator, SimulatorSettings, format_progress
    from bridge.logging_setup import configure_logging

    configure_logging(args.log_level, args.log_format)
    settings = SimulatorSettings(endpoint=args.endpoint, width=args.width, height=args.height, fps=args.fps,
                                 duration_s=args.duration, pipeline=args.pipeline, send_audio=not args.no_audio)
    sim = EngineSimulator(settings, on_progress=lambda p: _progress_line(format_progress(p)))
    try:
        report = sim.run()
    except BridgeClientError as exc:
        sys.stderr.write(f"\n{exc}\n")
        return 1
    sys.stderr.write("\n")
    print(format_progress(report))
    return 0


def _progress_line(text: str) -> None:
    sys.stderr.write("\r" + text + "   ")
    sys.stderr.flush()


def _cmd_demo(args: argparse.Namespace) -> int:
    import cv2

    from bridge.demo_output import SideBySideRecorder
    from bridge.engine_simulator import EngineSimulator, SimulatorSettings, format_progress
    from bridge.logging_setup import configure_logging
    from bridge.server import BridgeServer
    from bridge.server_config import ServerConfig

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(args.log_level, args.log_format, file=out_dir / "demo.log")
    print(f"machinima-bridge demo: server + simulated engine, pipeline {args.pipeline!r}, "
          f"{args.width}x{args.height} at {args.fps:g} fps for {args.duration:g} s")
    server = BridgeServer(ServerConfig(endpoints=["tcp://127.0.0.1:*"]))
    server.start()
    recorder = SideBySideRecorder(out_dir, fps=args.fps, max_frames=int(args.duration * args.fps) + 30)

    def on_result(scene_frame, result) -> None:
        plane = result.plane("color")
        if plane is not None:
            recorder.add(scene_frame.to_rgb(), cv2.cvtColor(plane.array(), cv2.COLOR_RGBA2RGB))

    settings = SimulatorSettings(endpoint=server.endpoint, width=args.width, height=args.height, fps=args.fps,
                                 duration_s=args.duration, pipeline=args.pipeline)
    try:
        report = EngineSimulator(settings, on_result=on_result,
                                 on_progress=lambda p: _progress_line(format_progress(p))).run()
    finally:
        server.stop()
    sys.stderr.write("\n")
    if report.results == 0:
        print("no results came back; see " + str(out_dir / "demo.log"))
        return 1
    artifacts = recorder.finish()
    summary = {
        "pipeline": args.pipeline, "width": args.width, "height": args.height, "fps_target": args.fps,
        "frames_sent": report.frames_sent, "results": report.results, "fps_out": round(report.fps_out, 2),
        "latency_ms_p50": round(report.latency_ms_p50, 2), "latency_ms_p95": round(report.latency_ms_p95, 2),
        "dropped": report.dropped, "errors": report.errors[:10], "video": str(artifacts.video_path),
        "contact_sheet": str(artifacts.contact_sheet_path), "video_codec": artifacts.codec,
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(format_progress(report))
    print(f"wrote {artifacts.video_path} ({artifacts.frame_count} frames, {artifacts.codec}), "
          f"{artifacts.contact_sheet_path}, {out_dir / 'summary.json'}")
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from bridge.doctor import collect_report, format_report

    print(format_report(collect_report()))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from bridge.logging_setup import configure_logging

    configure_logging("WARNING", "text")
    if args.what == "transport":
        from bridge.bench.transport import DEFAULT_SIZES, run_transport_bench

        sizes = DEFAULT_SIZES if not args.sizes else [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]
        results = run_transport_bench(sizes, budget_s_per_size=args.seconds)
        payload = {"results": [dataclasses.asdict(r) for r in results]}
        if args.json:
            print(json.dumps(payload))
        else:
            print(f"{'size':>11} {'bridge p50 ms':>14} {'raw p50 ms':>11} {'ratio':>6} {'bridge p99':>11} "
                  f"{'raw p99':>8} {'threaded p50':>13} {'ratio':>6}")
            for r in results:
                print(f"{r.width:>5}x{r.height:<5} {r.bridge_rtt_ms_p50:>14.3f} {r.raw_rtt_ms_p50:>11.3f} "
                      f"{r.ratio:>6.2f} {r.bridge_rtt_ms_p99:>11.3f} {r.raw_rtt_ms_p99:>8.3f} "
                      f"{r.threaded_rtt_ms_p50:>13.3f} {r.threaded_ratio:>6.2f}")
        return 0
    if args.what == "record":
        from bridge.takes.record_bench import run_record_bench

        result = dataclasses.asdict(run_record_bench())
        print(json.dumps(result, default=str) if args.json else "\n".join(f"{k:32s} {v}" for k, v in result.items()))
        return 0
    if args.what in ("diffusion", "face"):
        bench = importlib.import_module(f"bridge.bench.{args.what}")
        options = argparse.ArgumentParser(add_help=False)
        bench.add_arguments(options)
        result = bench.run_from_args(options.parse_args([]))  # the benchmark's defaults
        print(json.dumps(result) if args.json else bench.format_report(result))
        return 0
    if args.what == "mocap":
        from bridge.bench.mocap import run_mocap_bench

        print(json.dumps(run_mocap_bench(args.seconds)) if args.json else
              "\n".join(f"{k:28s} {v}" for k, v in run_mocap_bench(args.seconds).items()))
        return 0
    from bridge.bench.pipeline import run_pipeline_bench

    result = run_pipeline_bench(args.width, args.height, duration_s=args.seconds)
    if args.json:
        print(json.dumps(dataclasses.asdict(result)))
    else:
        print(f"model only {result.model_only_fps:.1f} fps | pipeline over the server {result.pipeline_fps:.1f} fps "
              f"| efficiency {result.efficiency:.3f} | {result.width}x{result.height}, latency p50 {result.latency_ms_p50} ms")
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from bridge.security import SecurityConfigError, generate_keypair

    try:
        public, secret = generate_keypair(Path(args.dir), args.name)
    except SecurityConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"public key: {public}\nsecret key: {secret} (keep it private)")
    print("server: set [security] server_secret_file to the server's .key_secret and put each allowed engine's "
          ".key into allowed_clients_dir; engines need the server's .key and their own .key_secret")
    return 0


def _cmd_pipelines(args: argparse.Namespace) -> int:
    from bridge.pipeline_config import builtin_names, load_builtin
    from bridge.stage import STAGE_TYPES, stage_class

    for name in builtin_names():
        cfg = load_builtin(name)
        print(f"builtin:{name:14s} {' > '.join(cfg.stage_names):40s} {cfg.description}")
    if args.params:
        print()
        for type_name in sorted(STAGE_TYPES):
            print(f"[{type_name}]")
            for spec in stage_class(type_name).PARAMS:
                d = spec.describe()
                extra = d.get("range") or d.get("choices") or ""
                print(f"  {spec.name:22s} {spec.kind:7s} default={spec.default!r:14.14} {extra!s:32s} "
                      f"{'' if spec.live else '(setup only) '}{spec.doc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="machinima-bridge", description="Real-time bridge between game engines and AI.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the bridge server")
    p.add_argument("--config", type=Path, help="server config TOML (see docs/configuration.md)")
    p.add_argument("--endpoint", action="append", help="ZeroMQ endpoint to bind (repeatable); default tcp://127.0.0.1:5555")
    p.add_argument("--osc-port", type=int, help="enable OSC control on this UDP port")
    p.add_argument("--no-osc", action="store_true", help="disable OSC control")
    p.add_argument("--record", nargs="?", const="", metavar="TAKE", help="record a take from the start (optional name)")
    p.add_argument("--takes-dir", help="folder for takes (default ./takes)")
    _add_logging_args(p)
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("simulate", help="stream the built-in animated scene to a running server")
    p.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--duration", type=float, default=10.0, help="seconds")
    p.add_argument("--pipeline", default=None, help="pipeline name (server default if omitted)")
    p.add_argument("--no-audio", action="store_true", help="send no AUDIO (by default the scene's soundtrack is sent)")
    _add_logging_args(p)
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("demo", help="server + simulator for ~10 s; writes demo_out/ (MP4 + contact sheet)")
    p.add_argument("--out", default="demo_out")
    p.add_argument("--pipeline", default="default")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--duration", type=float, default=10.0)
    _add_logging_args(p)
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("doctor", help="report Python, providers, CUDA/TensorRT and model files")
    p.set_defaults(func=_cmd_doctor)

    p = sub.add_parser("bench", help="benchmarks (each prints figures measured side by side)")
    p.add_argument("what", choices=["transport", "pipeline", "mocap", "face", "diffusion", "record"])
    p.add_argument("--json", action="store_true")
    p.add_argument("--seconds", type=float, default=None, help="time budget per measurement")
    p.add_argument("--sizes", nargs="*", help="transport: sizes like 512x512")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("keys", help="CURVE keys for remote engines")
    p.add_argument("action", choices=["generate"])
    p.add_argument("--dir", default="keys", help="folder for NAME.key and NAME.key_secret")
    p.add_argument("--name", required=True, help="e.g. server, or an engine's name")
    p.set_defaults(func=_cmd_keys)

    from bridge.model_tools import add_subcommands as add_model_subcommands
    from mocap.cli import add_subcommands as add_mocap_subcommands

    from bridge.takes.cli import add_subcommands as add_takes_subcommands

    add_mocap_subcommands(sub)
    add_model_subcommands(sub)
    add_takes_subcommands(sub)

    p = sub.add_parser("pipelines", help="list built-in pipelines (and every stage parameter with --params)")
    p.add_argument("--params", action="store_true")
    p.set_defaults(func=_cmd_pipelines)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "seconds", "unset") is None:
        args.seconds = {"transport": 4.0, "pipeline": 10.0, "mocap": 5.0, "face": 0.0, "diffusion": 0.0,
                        "record": 0.0}[args.what]
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
