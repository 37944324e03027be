"""The batch window: loads made within ``ticks`` loop ticks share one batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from resolvers.dataloaders.window import BatchWindow


class Recorder(BatchWindow[str, str]):
    def __init__(self, ticks: int) -> None:
        super().__init__(ticks=ticks)
        self.batches: list[list[str]] = []

    async def batch_load_fn(self, keys: Sequence[str]) -> list[str]:
        self.batches.append(list(keys))
        return [k.upper() for k in keys]


async def _load_after(loader: Recorder, key: str, awaits: int) -> str:
    for _ in range(awaits):
        await asyncio.sleep(0)  # one loop tick each, like a field reached through awaits
    value: str = await loader.load(key)
    return value


async def test_loads_within_the_window_share_one_batch() -> None:
    loader = Recorder(ticks=4)
    values = await asyncio.gather(*(_load_after(loader, k, n) for n, k in enumerate("abc")))
    assert values == ["A", "B", "C"]
    assert loader.batches == [["a", "b", "c"]]


async def test_loads_after_the_window_go_in_the_next_batch() -> None:
    loader = Recorder(ticks=1)
    await asyncio.gather(_load_after(loader, "a", 0), _load_after(loader, "b", 5))
    assert loader.batches == [["a"], ["b"]]


async def test_zero_ticks_sends_each_load_alone() -> None:
    loader = Recorder(ticks=0)
    await asyncio.gather(loader.load("a"), loader.load("b"))
    assert loader.batches == [["a"], ["b"]]


async def test_repeated_keys_are_loaded_once_per_loader() -> None:
    loader = Recorder(ticks=2)
    assert list(await asyncio.gather(loader.load("a"), loader.load("a"))) == ["A", "A"]
    assert await loader.load("a") == "A"
    assert loader.batches == [["a"]]
