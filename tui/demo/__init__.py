"""Embedded demo of the Cloudflare API, for trying cf-livetail without an account.

``DemoServer`` serves fake accounts and Workers scripts on loopback. It accepts
only the public credentials ``DEMO_TOKEN``, or ``DEMO_EMAIL`` with
``DEMO_GLOBAL_KEY``. Run it alone with ``python -m tui.demo``.
"""

from tui.demo.server import DEMO_EMAIL, DEMO_GLOBAL_KEY, DEMO_TOKEN, DemoServer

__all__ = ["DEMO_EMAIL", "DEMO_GLOBAL_KEY", "DEMO_TOKEN", "DemoServer"]
