"""Gateway processes of their own, for tests that kill one or share a store between two.

:func:`settings_env` turns :class:`~api.settings.Settings` into the environment
``revgraph serve`` / ``revgraph worker`` read, so a subprocess joins the same
store, cache and simulators as the in-process test stack.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from api.settings import Settings
from sources.systems import System

REVGRAPH = str(Path(sys.executable).with_name("revgraph"))


def settings_env(settings: Settings, **flows: object) -> dict[str, str]:
    """The environment that configures a process like ``settings`` (``flows`` overrides
    ``REVGRAPH_FLOWS_<NAME>``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVGRAPH_")}
    env["DATABASE_URL"] = settings.database_url
    if settings.database_schema:
        env["REVGRAPH_DB_SCHEMA"] = settings.database_schema
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    else:
        env.pop("REDIS_URL", None)
    env["REVGRAPH_REDIS_PREFIX"] = settings.redis_prefix
    if settings.auth.anonymous_role is not None:
        env["REVGRAPH_AUTH_ANONYMOUS_ROLE"] = settings.auth.anonymous_role.value
    env["REVGRAPH_AUTH_KEY_RATE_PER_S"] = str(settings.auth.key_rate_per_s)
    env["REVGRAPH_AUTH_KEY_COST_PER_MIN"] = str(settings.auth.key_cost_per_min)
    for system in System:
        source = settings.source(system)
        prefix = f"REVGRAPH_{system.value}_"
        env[prefix + "URL"] = source.url
        env[prefix + "TOKEN"] = source.token
        env[prefix + "BREAKER_FAILURES"] = str(source.breaker_failures)
        env[prefix + "WEBHOOK_SECRETS"] = json.dumps(source.webhook_secrets)
    for name, value in flows.items():
        env[f"REVGRAPH_FLOWS_{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Gateway:
    """A ``revgraph serve`` process on a free port."""

    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [REVGRAPH, "serve", "--port", str(self.port)],
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"gateway not up: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lease given back."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def worker_process(env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A ``revgraph worker`` process (flows only), stopped at the end."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [REVGRAPH, "worker"], env=dict(env), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def gateway_process(env: Mapping[str, str], log: Path) -> Iterator[Gateway]:
    gateway = Gateway(env, log)
    try:
        gateway.wait_ready()
        yield gateway
    finally:
        gateway.stop()
