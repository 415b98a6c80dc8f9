"""cf-livetail: keep a Cloudflare Workers live tail alive from the terminal."""

__version__ = "0.1.0"
