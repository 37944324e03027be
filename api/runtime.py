"""Process-level tuning for a gateway process."""

from __future__ import annotations

import gc

GC_THRESHOLDS = (50_000, 50, 100)


def tune_gc() -> None:
    """Fewer, cheaper garbage collections once the app is loaded.

    A QuoteToCash page allocates ~100k short-lived objects; with CPython's
    default thresholds (700, 10, 10) that triggers collections that scan every
    long-lived object (the schema, modules, pools) again and again — measured at
    up to a third of a request's time. Freezing what startup allocated takes it
    out of every later scan, and a larger first threshold collects in fewer,
    equally cheap passes. Objects are still collected; only the cadence changes.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
