"""Glide the default pipeline's style from one style to another over 5 seconds, over OSC.

Start a server with OSC on and an engine streaming through the default pipeline::

    .venv/bin/machinima-bridge serve --osc-port 9010
    .venv/bin/machinima-bridge simulate --duration 30          # stream "main", default pipeline

then::

    .venv/bin/python examples/osc_glide.py                     # style 19 -> style 3 over 5 s on stream "main"
    .venv/bin/python examples/osc_glide.py --from 3 --to 12 --stream '*'

It sends ``/bridge/<stream>/stylize/style <from>`` (jump to the first style), then
``/bridge/<stream>/stylize/style/glide <ms> <to>`` (the server morphs the 26 style
weights along a smoothstep curve), and prints the server's ``/bridge/ack`` or
``/bridge/error`` reply to each. Needs python-osc (a dependency of the bridge).
"""

from __future__ import annotations

import argparse
import sys
import time

from pythonosc.udp_client import SimpleUDPClient

STYLE_COUNT = 26  # styles of the multistyle26 network: indices 0..25


def send_and_wait(client: SimpleUDPClient, address: str, args: list, timeout_s: float) -> bool:
    """Send one OSC message and print the server's reply; True when it was acknowledged."""
    client.send_message(address, args)
    for reply in client.get_messages(timeout_s):
        print(f"{reply.address} {' '.join(str(a) for a in reply.params)}")
        return reply.address == "/bridge/ack"
    print(f"no reply from the server to {address} within {timeout_s} s (is OSC enabled on that port?)")
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="OSC host of the server (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9010, help="OSC port of the server (default 9010)")
    parser.add_argument("--stream", default="main", help="stream name, id, or '*' for all (default main)")
    parser.add_argument("--stage", default="stylize", help="stage name (the default pipeline's is stylize)")
    parser.add_argument("--from", dest="start", type=int, default=19, help="style to start from, 0..25 (default 19)")
    parser.add_argument("--to", dest="end", type=int, default=3, help="style to glide to, 0..25 (default 3)")
    parser.add_argument("--ms", type=float, default=5000.0, help="glide time in milliseconds (default 5000)")
    args = parser.parse_args(argv)
    for style in (args.start, args.end):
        if not 0 <= style < STYLE_COUNT:
            parser.error(f"styles are 0..{STYLE_COUNT - 1}, got {style}")

    base = f"/bridge/{args.stream}/{args.stage}/style"
    client = SimpleUDPClient(args.host, args.port)
    try:
        if not send_and_wait(client, base, [args.start], timeout_s=2.0):
            return 1
        time.sleep(0.5)  # let the first style show for a moment
        if not send_and_wait(client, base + "/glide", [float(args.ms), args.end], timeout_s=2.0):
            return 1
        print(f"gliding from style {args.start} to style {args.end} over {args.ms / 1000:g} s")
        time.sleep(args.ms / 1000.0)
        print("done")
        return 0
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
