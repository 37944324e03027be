"""Process-level tuning for a gateway process: garbage collection and returning memory.

Measured with ``bench/load.py`` (20 concurrent QuoteToCash, ``first: 10``):

- A request's objects are not freed by reference counting alone: its
  DataLoaders, their futures and the records they hold form reference cycles
  (e.g. a loader holding a bound method of the request's lookahead, which holds
  the loaders), so only the cyclic collector frees them. Requests are in flight
  for a second or more, so their objects survive the young collections and end
  in the oldest generation, which only a full collection frees.
- With the thresholds this module used to set, ``(50_000, 50, 100)``, a full
  collection came every ~250 M allocations, i.e. practically never: 30 s of
  load left ~860 k dead objects waiting, RSS went 122 → 528 MB and stayed
  there; one full collection then took 1.7 s and freed 857 k objects, but
  pymalloc could return only some arenas (each kept alive by a few survivors).
- With CPython's default thresholds ``(700, 10, 10)`` after ``gc.freeze()``,
  full collections run every few seconds over a small heap (the frozen startup
  objects are not scanned), each in a few milliseconds; RSS stays near its warm
  baseline, and the CPU per request did not rise measurably.

So: freeze what startup allocated (out of every later scan), keep the default
cadence, and run a small background :class:`MemoryTrimmer` that, once the
process goes idle after work, runs one full collection and hands free heap
pages back to the OS (``malloc_trim``), so RSS falls back after a burst.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
from collections.abc import Callable

GC_THRESHOLDS = (700, 10, 10)
TRIM_INTERVAL_S = 5.0

_trimmer: MemoryTrimmer | None = None
_trimmer_lock = threading.Lock()


def tune_gc() -> None:
    """Freeze startup objects, set the collection cadence, start the idle trimmer (once)."""
    global _trimmer
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    with _trimmer_lock:
        if _trimmer is None:
            _trimmer = MemoryTrimmer(TRIM_INTERVAL_S)
            _trimmer.start()


def malloc_trim() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)`` (free heap pages back to the OS); None elsewhere."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class MemoryTrimmer(threading.Thread):
    """Once the process is idle after work: one full collection, then ``malloc_trim``.

    "Work" is a young collection since the last look (a few hundred
    allocations); "idle" is a whole interval without one. The check costs a
    call to ``gc.get_stats()`` per interval; the collection runs once per burst.
    """

    def __init__(self, interval_s: float) -> None:
        super().__init__(name="revgraph-memory-trimmer", daemon=True)
        self.interval_s = interval_s
        self.trims = 0
        self._halt = threading.Event()
        self._trim = malloc_trim()

    def run(self) -> None:
        seen = _young_collections()
        busy = False
        while not self._halt.wait(self.interval_s):
            now = _young_collections()
            if now != seen:
                busy, seen = True, now
            elif busy:
                self.trim()
                busy, seen = False, _young_collections()

    def trim(self) -> None:
        gc.collect()
        if self._trim is not None:
            self._trim()
        self.trims += 1

    def stop(self) -> None:
        self._halt.set()


def _young_collections() -> int:
    return int(gc.get_stats()[0]["collections"])
