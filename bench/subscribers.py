"""Case 5's subscriber processes (``bench.ws_clients``), read line by line as they report."""

from __future__ import annotations

import asyncio
import sys
from collections import defaultdict
from dataclasses import dataclass, field

from bench.servers import LOAD_CPU, ROOT, pinned


@dataclass
class Delivery:
    processes: int = 0
    first: float = float("inf")  # wall-clock time of the first receipt over every process
    last: float = 0.0  # wall-clock time of the last receipt over every process


@dataclass
class Subscribers:
    """``processes`` client processes holding ``per_process`` sockets each."""

    argv: list[list[str]]
    children: list[asyncio.subprocess.Process] = field(default_factory=list)
    ready: int = 0
    sample: str | None = None
    errors: list[str] = field(default_factory=list)
    messages: int = 0
    deliveries: dict[str, Delivery] = field(default_factory=lambda: defaultdict(Delivery))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # after stop()
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def of(
        cls, url: str, total: int, processes: int, *, key: str | None, query: str
    ) -> Subscribers:
        argv = []
        for index in range(processes):
            count = total // processes + (1 if index < total % processes else 0)
            args = [sys.executable, "-m", "bench.ws_clients", "--url", url, "--count", str(count)]
            if key is not None:
                args += ["--key", key, "--query", query]
            argv.append(pinned(args, LOAD_CPU))
        return cls(argv)

    async def start(self, timeout: float = 120.0) -> None:
        for args in self.argv:
            child = await asyncio.create_subprocess_exec(
                *args,
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            self.children.append(child)
            self._readers.append(asyncio.create_task(self._read(child)))
        await self._until(lambda: self.ready == len(self.children), timeout, "subscribers ready")

    async def stop(self) -> None:
        """Close the sockets and collect each process's message count."""
        for child in self.children:
            if child.stdin is not None and not child.stdin.is_closing():
                child.stdin.close()
        for child in self.children:
            try:
                await asyncio.wait_for(child.wait(), 30)
            except TimeoutError:
                child.kill()
                await child.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)

    async def delivered(self, index: str, timeout: float) -> Delivery | None:
        """When every socket has the message of change ``index`` (``po_…:STATUS``): the
        receipts; None on timeout."""
        processes = len(self.children)
        try:
            await self._until(lambda: self.deliveries[index].processes == processes, timeout, "")
        except TimeoutError:
            return None
        return self.deliveries[index]

    async def _until(self, done: object, timeout: float, what: str) -> None:
        assert callable(done)
        async with asyncio.timeout(timeout):
            while not done():
                if any(child.returncode is not None for child in self.children):
                    raise RuntimeError(f"a subscriber process exited: {await self._stderr()}")
                self._changed.clear()
                await self._changed.wait()

    async def _read(self, child: asyncio.subprocess.Process) -> None:
        assert child.stdout is not None
        async for raw in child.stdout:
            kind, _, rest = raw.decode().rstrip("\n").partition(" ")
            if kind == "READY":
                self.ready += 1
            elif kind == "SAMPLE" and self.sample is None:
                self.sample = rest
            elif kind == "GOT":
                index, _count, first, last = rest.split()
                delivery = self.deliveries[index]
                delivery.processes += 1
                delivery.first = min(delivery.first, float(first))
                delivery.last = max(delivery.last, float(last))
            elif kind == "ERROR":
                self.errors.append(rest)
            elif kind == "COUNT":
                change, count = rest.split()
                self.counts[change] += int(count)
            elif kind == "DONE":
                self.messages += int(rest)
            self._changed.set()
        self._changed.set()

    async def _stderr(self) -> str:
        tails = []
        for child in self.children:
            if child.returncode is not None and child.stderr is not None:
                tails.append((await child.stderr.read()).decode(errors="replace")[-2000:])
        return "\n".join(tails)
