"""Run the demo Cloudflare API until Ctrl+C: ``python -m tui.demo [--port N]``."""

from __future__ import annotations

import argparse
import logging
import sys
import threading

from tui.demo.server import DEMO_EMAIL, DEMO_GLOBAL_KEY, DEMO_TOKEN, DemoServer

DEFAULT_PORT = 8787


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tui.demo",
        description="Serve the cf-livetail demo Cloudflare API on loopback.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="loopback address to bind (default: %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="TCP port to listen on, 0 for any free port (default: %(default)s)",
    )
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="log every request to stderr",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        server = DemoServer(host=args.host, port=args.port).start()
    except ValueError as error:
        print(f"Invalid option: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(
            f"Could not start the demo API on {args.host}:{args.port}: {error}. "
            "Choose another port with --port, or --port 0 for any free port.",
            file=sys.stderr,
        )
        return 1

    # The prints sit inside the try, so that Ctrl+C right after them still stops
    # the server cleanly.
    try:
        print(f"Demo API:          {server.base_url}")
        print(f"API token:         {DEMO_TOKEN}")
        print(f"Or X-Auth-Email:   {DEMO_EMAIL}")
        print(f"and X-Auth-Key:    {DEMO_GLOBAL_KEY}")
        print("These credentials are public and work only here. Ctrl+C stops.")
        sys.stdout.flush()
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
