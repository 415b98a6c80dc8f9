"""The minimum CPU per beat of an asyncio heartbeat loop, as a floor to compare with.

It takes the same arguments as sdk_loop.py and prints one JSON line per
beat, but does nothing else: no credential check, no history, no reply
classification. It opens one kept-alive connection, writes each request by
hand and reads the reply with ``readuntil`` and ``readexactly``. It trusts
the benchmark server's replies (a Content-Length, no chunks), which no real
client may do, so it runs only against tests/benchmarks/beatserver.py.

Only the standard library is imported, and it runs on the app's Python.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


async def run(args: argparse.Namespace) -> None:
    url = urlsplit(args.base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    token = "Bearer " + (args.token or "")
    path = (
        f"{url.path}/accounts/{args.account}/workers/observability/telemetry"
        "/live-tail/heartbeat"
    )
    body = json.dumps({"scriptId": args.script}).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nAuthorization: {token}\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    anchor = loop.time()
    for number in range(args.count):
        delay = anchor + number * args.interval - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sent = time.time()
        started = time.monotonic()
        writer.write(head + body)
        reply_head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in reply_head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        reply = json.loads(await reader.readexactly(length))
        record = {
            "time": sent,
            "ok": reply.get("success") is True,
            "latency_ms": round((time.monotonic() - started) * 1000, 1),
        }
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()
    writer.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--account", required=True)
    parser.add_argument("--script", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--interval", type=float, required=True)
    parser.add_argument("--token")
    args = parser.parse_args()
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
