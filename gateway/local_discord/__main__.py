"""``python -m vai.gateway.local_discord``: run the local Discord server until interrupted.

Prints the two URLs to point a bot at (``VAI_DISCORD_API_URL`` / ``VAI_DISCORD_GATEWAY_URL``) and
the chat page's address, which carries this run's key (the page opens only with it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .server import LocalDiscord


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m vai.gateway.local_discord", description=__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default=None, help="bot token to require (default: any)")
    parser.add_argument(
        "--channel", action="append", dest="channels", help="channel to create (repeatable)"
    )
    parser.add_argument("--no-message-content", action="store_true", help="intent not enabled")
    parser.add_argument("--no-rate-limits", action="store_true")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    server = LocalDiscord(
        args.host,
        args.port,
        token=args.token,
        message_content_intent_enabled=not args.no_message_content,
        rate_limits=not args.no_rate_limits,
        channels=args.channels or ["general"],
    )
    await server.start()
    print(f"api_url={server.api_url}", flush=True)
    print(f"gateway_url={server.gateway_url}", flush=True)
    print(f"chat_page={server.page_url}", flush=True)
    for channel_id, name in server.channels().items():
        print(f"channel {name}={channel_id}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
