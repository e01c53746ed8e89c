"""Join a room from an invite link, print its history, say something, see it arrive.

Run it against ``make run``'s server (docs/client.md has the walk-through)::

    parley exercise start tutorial --json        # prints every seat's invite_url
    python -m client.examples.hello 'http://127.0.0.1:8080/join#pi_...' --say "Good morning."

``--follow`` keeps printing live events until Ctrl-C; the connection survives a server restart.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping, Sequence

import aiohttp

from client import CommandError, Event, ParleyError, connect, redeem


def describe(event: Event) -> str:
    """One line per event: seq, stage, kind, thread and what it says."""
    head = f"#{event.seq:<4} {event.stage:<18} {event.kind:<18}"
    if event.sealed:
        return f"{head} (sealed: you may know only that it happened)"
    body = event.body
    named = next((value for value in body.values() if isinstance(value, Mapping)), body)
    detail = body.get("text") or body.get("title") or named.get("title") or named.get("name") or ""
    who = f" {event.seat}:" if event.seat else ""
    return f"{head} [{event.thread or 'room'}]{who} {detail}".rstrip()


async def main(invite_url: str, *, say: str, thread: str, follow: bool) -> int:
    credentials = await redeem(invite_url)
    print(f"seat {credentials.seat} ({credentials.role}) in room {credentials.room}")
    async with connect(credentials.url, credentials.token) as session:
        await session.wait_synced()  # the history is queued; live events follow it
        try:
            ack = await session.post_message(credentials.room, thread, say)
        except CommandError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
        print(f"acknowledged: seq {ack.seq}")
        async for event in session.events():
            print(describe(event))
            if not follow and ack.seq is not None and event.seq >= ack.seq:
                break
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m client.examples.hello", description=__doc__)
    parser.add_argument("invite_url", help="an invite link: http://host:port/join#pi_...")
    parser.add_argument("--say", default="Hello from the Python client.", help="text to post")
    parser.add_argument("--thread", default="plenary", help="thread to post in (plenary)")
    parser.add_argument("--follow", action="store_true", help="keep printing live events")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(
            main(args.invite_url, say=args.say, thread=args.thread, follow=args.follow)
        )
    except (ParleyError, aiohttp.ClientError, OSError, ValueError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(run())
