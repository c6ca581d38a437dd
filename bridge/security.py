"""Remote engines: CURVE encryption and ZAP authentication with an allow-list of client keys.

Loopback stays keyless by default.  The server refuses to listen on anything
but loopback (127.0.0.0/8, ::1, ipc://, inproc://) unless CURVE is on; with
CURVE on, every connection is encrypted and only clients whose public key is
in the allow-list folder get through (ZeroMQ's ZAP handshake, served by
pyzmq's authenticator thread); a refused client is logged with its address.

Keys are ZeroMQ certificate files (``NAME.key`` public, ``NAME.key_secret``
secret) made by ``machinima-bridge keys generate``: give the server its own
secret file and a folder holding the public ``.key`` files of the engines
allowed in; give each engine the server's public key and its own pair.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import zmq
import zmq.auth
import zmq.utils.z85
from zmq.auth.thread import ThreadAuthenticator

log = logging.getLogger(__name__)

ZAP_DOMAIN = "machinima-bridge"


class SecurityConfigError(Exception):
    """Keys missing or unreadable, or a public endpoint without CURVE; the message names the path or endpoint."""


@dataclass
class CurveSettings:
    server_secret_file: Path
    allowed_clients_dir: Path

    def validate(self) -> None:
        if not self.server_secret_file.is_file():
            raise SecurityConfigError(f"server secret key file not found: {self.server_secret_file} "
                                      "(make one with `machinima-bridge keys generate`)")
        if not self.allowed_clients_dir.is_dir():
            raise SecurityConfigError(f"allowed client keys folder not found: {self.allowed_clients_dir}")
        if not list(self.allowed_clients_dir.glob("*.key")):
            log.warning("no client public keys (*.key) in %s: every client will be refused", self.allowed_clients_dir)


def is_loopback_endpoint(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// endpoints bound to a loopback address."""
    scheme = endpoint.split("://", 1)[0].lower()
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    host = urlsplit(endpoint).hostname or ""
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "*", "0.0.0.0" is an address but not loopback, interface names, host names


def check_endpoints(endpoints: list[str], curve: CurveSettings | None) -> None:
    public = [e for e in endpoints if not is_loopback_endpoint(e)]
    if public and curve is None:
        raise SecurityConfigError(
            f"refusing to listen on {', '.join(public)} without encryption: anything but loopback needs CURVE "
            "([security] curve = true, server_secret_file, allowed_clients_dir; see docs/configuration.md)"
        )


def load_keypair(secret_file: Path) -> tuple[bytes, bytes]:
    """(public, secret) from a ZeroMQ secret certificate file."""
    try:
        public, secret = zmq.auth.load_certificate(str(secret_file))
    except (OSError, ValueError) as exc:
        raise SecurityConfigError(f"cannot read key file {secret_file}: {exc}") from None
    if secret is None:
        raise SecurityConfigError(f"{secret_file} holds no secret key (use the .key_secret file, not the .key)")
    return public, secret


def load_public_key(key_file: Path) -> bytes:
    try:
        public, _ = zmq.auth.load_certificate(str(key_file))
    except (OSError, ValueError) as exc:
        raise SecurityConfigError(f"cannot read key file {key_file}: {exc}") from None
    return public


def generate_keypair(folder: Path, name: str) -> tuple[Path, Path]:
    """Write NAME.key (public) and NAME.key_secret (secret, mode 600) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (".key", ".key_secret"):
        if (folder / f"{name}{suffix}").exists():
            raise SecurityConfigError(f"{folder / (name + suffix)} exists already; not overwriting a key")
    public_file, secret_file = zmq.auth.create_certificates(str(folder), name)
    Path(secret_file).chmod(0o600)
    return Path(public_file), Path(secret_file)


class AllowList:
    """ZAP credentials check: a client key must be one of the ``*.key`` files in the folder.

    The folder is re-read when it changes, so engines can be let in (or out) without a restart.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._stamp: tuple = ()
        self._keys: dict[bytes, str] = {}
        self.refused = 0

    def _reload(self) -> None:
        files = sorted(self.folder.glob("*.key"))
        stamp = tuple((p.name, p.stat().st_mtime_ns) for p in files)
        if stamp == self._stamp:
            return
        keys: dict[bytes, str] = {}
        for path in files:
            try:
                keys[load_public_key(path)] = path.stem  # z85 text, as ZAP hands client keys over
            except SecurityConfigError as exc:
                log.error("%s", exc)
        self._keys, self._stamp = keys, stamp

    def callback(self, domain: str, client_key_z85: bytes) -> bool:
        self._reload()
        name = self._keys.get(client_key_z85)
        if name is None:
            self.refused += 1
            log.warning("refused a client: its CURVE public key %s... is not in %s",
                        client_key_z85[:12].decode("ascii", "replace"), self.folder)
            return False
        log.info("client %r authenticated", name)
        return True


class CurveGuard:
    """Runs the ZAP authenticator and turns a ROUTER socket into a CURVE server."""

    def __init__(self, ctx: zmq.Context, settings: CurveSettings) -> None:
        settings.validate()
        self.settings = settings
        self._public, self._secret = load_keypair(settings.server_secret_file)
        self.allow_list = AllowList(settings.allowed_clients_dir)
        self._auth = ThreadAuthenticator(ctx, log=logging.getLogger("bridge.security.zap"))

    def start(self) -> None:
        self._auth.start()
        self._auth.configure_curve_callback(domain=ZAP_DOMAIN, credentials_provider=self.allow_list)
        self.allow_list._reload()
        log.info("CURVE on: %d allowed client key(s) in %s", len(self.allow_list._keys),
                 self.settings.allowed_clients_dir)

    def secure(self, sock: zmq.Socket) -> None:
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self._secret)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self._public)
        sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN.encode("ascii"))

    def stop(self) -> None:
        self._auth.stop()


def client_curve_keys(server_public_file: Path, client_secret_file: Path) -> dict[str, bytes]:
    """The ``curve=`` argument of ``BridgeClient``: the server's public key and this engine's key pair."""
    public, secret = load_keypair(client_secret_file)
    return {"server_public": load_public_key(server_public_file), "public": public, "secret": secret}
