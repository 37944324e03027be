"""Serving simulator apps on loopback sockets with uvicorn.

:func:`serve` runs apps in the current event loop until cancelled (the CLI);
:class:`BackgroundServers` runs them in a thread with its own loop, so tests and
benchmarks talk to them over real sockets while keeping their own loop free.
Ports may be 0: the socket is bound first, so the real port is known.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn
import uvloop
from starlette.types import ASGIApp

T = TypeVar("T")

AppsFactory = Callable[[Mapping[str, str]], Awaitable[Mapping[str, ASGIApp]]]
"""Builds the apps, given the base URL each will be served at (by name)."""


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop: about twice as fast as asyncio's for many small requests."""
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on :func:`new_event_loop` (what the CLI serves with)."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


def free_port_block(size: int = 5, host: str = "127.0.0.1") -> int:
    """A port ``p`` such that ``p .. p+size-1`` are free now, below the ephemeral range.

    For commands that take fixed ports (a base port for the simulators): ports
    are drawn under 32768 so outgoing connections, which take ephemeral ports,
    cannot grab one between this check and the bind.
    """
    for _ in range(200):
        base = random.randrange(20_000, 32_000)
        with contextlib.ExitStack() as stack:
            try:
                for port in range(base, base + size):
                    stack.enter_context(socket.socket()).bind((host, port))
            except OSError:
                continue
            return base
    raise RuntimeError(f"no block of {size} free ports")


class PortInUse(OSError):
    """A fixed port something else listens on; ``name`` is the app that wanted it."""

    def __init__(self, name: str, host: str, port: int) -> None:
        super().__init__(errno.EADDRINUSE, f"port {port} is in use")
        self.name = name
        self.host = host
        self.port = port

    def __str__(self) -> str:
        return f"{self.name}: port {self.port} is in use"


def bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio only disables Nagle (TCP_NODELAY) on accepted
    # sockets whose proto says TCP; with proto 0 every answer written in two parts
    # (headers, body) waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _bind_named(name: str, host: str, port: int) -> socket.socket:
    try:
        return bind(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(name, host, port) from exc
        raise


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the process owner (the CLI).

    Several servers share one process here; if each captured SIGINT, only the
    last would see Ctrl-C. Cancelling :func:`serve` stops them all instead.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class _Bound:
    name: str
    sock: socket.socket

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"


async def serve(
    build: AppsFactory,
    ports: Mapping[str, int],
    *,
    host: str = "127.0.0.1",
    ready: Callable[[Mapping[str, str]], None] | None = None,
    lifespan: bool = False,
) -> None:
    """Serve every app until cancelled; ``ready`` is called with the URLs once listening.

    ``lifespan`` runs the apps' startup/shutdown (the gateway needs it; the
    simulators open their stores in ``build`` instead).
    """
    bound: list[_Bound] = []
    try:
        for name, port in ports.items():
            bound.append(_Bound(name, _bind_named(name, host, port)))
    except OSError:
        for b in bound:
            b.sock.close()
        raise
    urls = {b.name: b.url for b in bound}
    apps = await build(urls)
    servers = [
        _Server(
            uvicorn.Config(
                apps[b.name],
                log_level="warning",
                access_log=False,
                lifespan="on" if lifespan else "off",
                timeout_keep_alive=30,
            )
        )
        for b in bound
    ]
    tasks = [
        asyncio.create_task(s.serve(sockets=[b.sock])) for s, b in zip(servers, bound, strict=True)
    ]
    try:
        while not all(s.started for s in servers):
            if any(t.done() for t in tasks):
                await asyncio.gather(*tasks)
                # Ended without starting: the app's startup (lifespan) failed and said why.
                failed = [b.name for s, b in zip(servers, bound, strict=True) if not s.started]
                raise RuntimeError(f"{', '.join(failed)} failed to start (see the log)")
            await asyncio.sleep(0.01)
        if ready is not None:
            ready(urls)
        # asyncio.wait, unlike gather, leaves the servers running when we are
        # cancelled, so the finally block can stop them gracefully (lifespan
        # shutdown, open connections closed) instead of killing them mid-request.
        await asyncio.wait(tasks)
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.wait(tasks)
        for b in bound:
            b.sock.close()


class BackgroundServers:
    """Apps served from a daemon thread; ``start()`` returns their URLs by name."""

    def __init__(
        self,
        build: AppsFactory,
        ports: Mapping[str, int],
        *,
        host: str = "127.0.0.1",
        cleanup: Callable[[], Awaitable[None]] | None = None,
        lifespan: bool = False,
        name: str = "simulators",
    ) -> None:
        self._name = name
        self._lifespan = lifespan
        self._build = build
        self._ports = dict(ports)
        self._host = host
        self._cleanup = cleanup
        self._loop = new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready = threading.Event()
        self._main: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self.urls: dict[str, str] = {}

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        def on_ready(urls: Mapping[str, str]) -> None:
            self.urls = dict(urls)
            self._ready.set()

        async def main() -> None:
            try:
                await serve(
                    self._build,
                    self._ports,
                    host=self._host,
                    ready=on_ready,
                    lifespan=self._lifespan,
                )
            finally:
                if self._cleanup is not None:
                    await self._cleanup()

        self._main = self._loop.create_task(main())
        try:
            self._loop.run_until_complete(self._main)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # surfaced to the starting thread
            self._error = exc
        finally:
            self._ready.set()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def start(self, timeout: float = 60.0) -> dict[str, str]:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("simulators did not start in time")
        if isinstance(self._error, PortInUse):
            raise self._error
        if self._error is not None or not self.urls:
            raise RuntimeError(f"{self._name} failed to start") from self._error
        return self.urls

    def call(self, coro: Awaitable[object], timeout: float = 60.0) -> object:
        """Run a coroutine on the servers' loop (e.g. to reach a store) and wait for it."""

        async def wrapped() -> object:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapped(), self._loop).result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        if self._main is not None and not self._main.done():
            self._loop.call_soon_threadsafe(self._main.cancel)
        self._thread.join(timeout)
