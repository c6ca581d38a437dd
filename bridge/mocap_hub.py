"""Mocap sources run by the server, and its VMC outputs.

Configured in the server config's ``[mocap]`` table::

    [mocap]
    session = "forum"                 # the session whose engines receive these performers
    host = "127.0.0.1"                # interface the UDP sources listen on (0.0.0.0: a suit PC on the LAN)
    xsens_port = 9763                 # Xsens MVN network streamer
    vmc_port = 39539                  # VMC Performer apps (VSeeFace, Warudo, ...) sending to us
    live_link_face_port = 11111       # iPhone Live Link Face
    move_live = "127.0.0.1:54321"     # Move Live gRPC server
    vmc_out = ["127.0.0.1:39540"]     # every performer's pose, sent on as VMC
    webcam = 0                        # markerless body capture: camera index, or a video file path

Poses from these sources are relayed as MOCAP to every engine of ``session``
that asked for mocap (see ``MocapRelay``); poses of every performer (engines'
too) go out to each ``vmc_out`` address.  VMC sending runs on its own thread
with the newest pose per performer waiting, so neither the sources' threads
nor the server's I/O thread wait on it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from bridge.protocol.messages import Mocap
from mocap.pose_wire import pose_to_wire
from mocap.skeleton import HumanoidPose
from mocap.source import MocapSource

log = logging.getLogger(__name__)


class MocapConfigError(Exception):
    pass


@dataclass
class MocapConfig:
    session: str = "default"
    host: str = "127.0.0.1"
    xsens_port: int | None = None
    vmc_port: int | None = None
    live_link_face_port: int | None = None
    move_live: str | None = None
    vmc_out: list[str] = field(default_factory=list)
    webcam: int | str | None = None  # camera index or video file: markerless body capture

    @property
    def active(self) -> bool:
        sources = (self.xsens_port, self.vmc_port, self.live_link_face_port, self.move_live, self.webcam)
        return any(v is not None for v in sources) or bool(self.vmc_out)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], where: str) -> MocapConfig:
        cfg = cls()
        for key, value in data.items():
            if key not in cls.__dataclass_fields__:
                raise MocapConfigError(f"{where}: unknown key mocap.{key} (allowed: {', '.join(cls.__dataclass_fields__)})")
            if key.endswith("_port") and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535):
                raise MocapConfigError(f"{where}: mocap.{key} = {value!r} must be a UDP port 0..65535")
            if key == "webcam" and (isinstance(value, bool) or not isinstance(value, (int, str))):
                raise MocapConfigError(f"{where}: mocap.webcam must be a camera index or a video file path")
            if key in ("session", "host", "move_live") and not isinstance(value, str):
                raise MocapConfigError(f"{where}: mocap.{key} must be a string")
            if key == "vmc_out":
                if not isinstance(value, list):
                    raise MocapConfigError(f"{where}: mocap.vmc_out must be a list of \"host:port\" strings")
                for target in value:
                    parse_host_port(target, f"{where}: mocap.vmc_out")
            setattr(cfg, key, value)
        return cfg


def parse_host_port(text: Any, where: str) -> tuple[str, int]:
    if not isinstance(text, str) or ":" not in text:
        raise MocapConfigError(f"{where}: {text!r} is not \"host:port\"")
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise MocapConfigError(f"{where}: {text!r} has no valid port")
    return host.strip("[]"), int(port)


class _VmcOutput:
    """Newest pose per performer, sent as VMC by one thread."""

    def __init__(self, targets: list[tuple[str, int]]) -> None:
        from mocap.vmc import VmcPerformerSender

        self._senders = [VmcPerformerSender(host, port) for host, port in targets]
        self._cond = threading.Condition()
        self._latest: dict[str, HumanoidPose] = {}
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="vmc-out", daemon=True)
        self._thread.start()

    def offer(self, pose: HumanoidPose) -> None:
        with self._cond:
            self._latest[pose.performer_id] = pose
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._latest and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                poses, self._latest = list(self._latest.values()), {}
            for pose in poses:
                for sender in self._senders:
                    try:
                        sender.send_pose(pose)
                    except OSError as exc:
                        log.warning("VMC out to %s failed: %s", sender.target, exc)

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(2.0)
        for sender in self._senders:
            sender.close()


def open_sources(cfg: MocapConfig) -> list[MocapSource]:
    sources: list[MocapSource] = []
    if cfg.xsens_port is not None:
        from mocap.xsens_mvn import XsensMvnSource

        sources.append(XsensMvnSource(host=cfg.host, port=cfg.xsens_port))
    if cfg.vmc_port is not None:
        from mocap.vmc import VmcMarionetteSource

        sources.append(VmcMarionetteSource(host=cfg.host, port=cfg.vmc_port, per_sender=True))
    if cfg.live_link_face_port is not None:
        from mocap.live_link_face import LiveLinkFaceSource

        sources.append(LiveLinkFaceSource(host=cfg.host, port=cfg.live_link_face_port))
    if cfg.move_live is not None:
        from mocap.move_live import MoveLiveSource

        sources.append(MoveLiveSource(cfg.move_live))
    if cfg.webcam is not None:
        from mocap.markerless.webcam_source import WebcamPoseSource

        sources.append(WebcamPoseSource(cfg.webcam, performer_id="webcam", pace=isinstance(cfg.webcam, str)))
    return sources


class MocapHub:
    def __init__(self, cfg: MocapConfig, publish: Callable[[str, Mocap, str], None]) -> None:
        self.cfg = cfg
        self._publish = publish
        self.sources = open_sources(cfg)
        targets = [parse_host_port(t, "mocap.vmc_out") for t in cfg.vmc_out]
        self._vmc_out = _VmcOutput(targets) if targets else None

    def start(self) -> None:
        for source in self.sources:
            source.add_listener(lambda pose, name=source.name: self._on_source_pose(pose, name))
            source.start()
            log.info("mocap source %s started; its performers go to session %r", source.name, self.cfg.session)

    def _on_source_pose(self, pose: HumanoidPose, source_name: str) -> None:
        fields, payload = pose_to_wire(pose)
        self._publish(self.cfg.session, Mocap(fields=fields, parts=[payload]), source_name)
        self.forward(pose)

    def forward(self, pose: HumanoidPose) -> None:
        """Send a pose (from a source or an engine) to the VMC outputs."""
        if self._vmc_out is not None:
            self._vmc_out.offer(pose)

    def stop(self) -> None:
        for source in self.sources:
            try:
                source.stop()
            except Exception:
                log.exception("stopping mocap source %s failed", source.name)
        if self._vmc_out is not None:
            self._vmc_out.close()
