"""WebSocket subscribers for case 5, run as a separate process: ``python -m bench.ws_clients``.

Opens ``--count`` sockets to ``--url``; with ``--key`` each speaks graphql-transport-ws
(``connection_init`` with the key, then one ``subscribe`` with ``--query``), without it each
just listens (the bare broadcast). Prints, one line each, on stdout:

- ``READY <n>`` once every socket is open (and, for GraphQL, acknowledged and subscribed);
- ``SAMPLE <text>`` the first message one socket received (the bytes the reference sends);
- ``GOT <change> <count> <first> <last>`` when every socket has received the message of one
  change (named by its payout id and status, ``po_…:PAID``): wall-clock times
  (``time.time()``) of the first and last receipt in this process;
- ``ERROR <text>`` for a GraphQL error message; when stdin closes, ``COUNT <change> <n>`` per
  change and ``DONE <messages>``.

Messages are matched to changes by content, not by position: a subscription that became live
after a change never receives it, and must not shift the count of the ones after.

The receipt time is taken as soon as the frame is read, before anything else is done with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections import defaultdict

import uvloop
from websockets.asyncio.client import ClientConnection, connect

SUBPROTOCOL = "graphql-transport-ws"
CHANGE = re.compile(r'"payout":\{"id":"([^"]+)","status":"([A-Z_]+)"')


class Tally:
    def __init__(self, sockets: int) -> None:
        self.sockets = sockets
        self.counts: dict[str, int] = defaultdict(int)
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.messages = 0
        self.sampled = False

    def got(self, index: str, at: float) -> None:
        self.messages += 1
        self.counts[index] += 1
        self.first.setdefault(index, at)
        self.last[index] = max(self.last.get(index, at), at)
        if self.counts[index] == self.sockets:
            print(f"GOT {index} {self.sockets} {self.first[index]:.6f} {self.last[index]:.6f}")
            sys.stdout.flush()


async def open_graphql(url: str, key: str, query: str) -> ClientConnection:
    socket = await connect(url, subprotocols=[SUBPROTOCOL], ping_interval=None, max_queue=None)  # type: ignore[list-item]
    await socket.send(json.dumps({"type": "connection_init", "payload": {"x-api-key": key}}))
    ack = json.loads(await socket.recv())
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack: {ack}")
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
    return socket


async def listen(socket: ClientConnection, tally: Tally, sample: bool, graphql: bool) -> None:
    async for frame in socket:
        at = time.time()
        message = frame if isinstance(frame, str) else frame.decode()
        if graphql and '"next"' not in message:
            data = json.loads(message)
            if data.get("type") == "ping":
                await socket.send(json.dumps({"type": "pong"}))
                continue
            print(f"ERROR {message}", flush=True)
            continue
        if sample and not tally.sampled:
            tally.sampled = True
            print(f"SAMPLE {message}", flush=True)
        found = CHANGE.search(message)
        tally.got(f"{found[1]}:{found[2]}" if found else "unknown", at)


async def main(args: argparse.Namespace) -> None:
    graphql = args.key is not None
    sockets: list[ClientConnection] = []
    for start in range(0, args.count, 50):  # in batches: do not flood the accept queue
        batch = range(start, min(start + 50, args.count))
        if graphql:
            opened = [open_graphql(args.url, args.key, args.query) for _ in batch]
        else:
            opened = [connect(args.url, ping_interval=None, max_queue=None) for _ in batch]  # type: ignore[misc]
        sockets += await asyncio.gather(*opened)
    tally = Tally(len(sockets))
    listeners = [
        asyncio.create_task(listen(socket, tally, index == 0, graphql))
        for index, socket in enumerate(sockets)
    ]
    print(f"READY {len(sockets)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for socket in sockets:
        await socket.close()
    for listener in listeners:
        listener.cancel()
    for change, count in tally.counts.items():
        print(f"COUNT {change} {count}")
    print(f"DONE {tally.messages}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ws_clients")
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--key", default=None, help="API key: speak graphql-transport-ws")
    parser.add_argument("--query", default="")
    return parser.parse_args(argv)


if __name__ == "__main__":
    uvloop.run(main(parse_args()))
