"""The heartbeat loop of cf-livetail's headless mode, written with Cloudflare's SDK.

This script runs in its own virtual environment with only the `cloudflare`
package installed, so it must import nothing from this repository. It
prepares the live tail once, then sends ``--count`` heartbeats ``--interval``
seconds apart on a fixed schedule and prints one JSON line per beat, as
``cf-livetail --headless`` does. The API token comes from
CLOUDFLARE_API_TOKEN.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import cloudflare


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--script", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--interval", type=float, required=True)
    args = parser.parse_args()

    client = cloudflare.Cloudflare(base_url=args.base_url, max_retries=0)
    telemetry = client.workers.observability.telemetry
    telemetry.live_tail(account_id=args.account, script_id=args.script)
    anchor = time.monotonic()
    for number in range(args.count):
        delay = anchor + number * args.interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent = time.time()
        started = time.monotonic()
        try:
            telemetry.live_tail_heartbeat(
                account_id=args.account, script_id=args.script
            )
            ok, message = True, "heartbeat accepted"
        except cloudflare.APIError as exc:
            ok, message = False, str(exc)
        record = {
            "time": sent,
            "ok": ok,
            "latency_ms": round((time.monotonic() - started) * 1000, 1),
            "message": message,
        }
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
