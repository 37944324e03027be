"""Per-request data loading: every cross-system hop is one batched upstream call.

* :mod:`~resolvers.dataloaders.window` — the batch window (how long a loader
  collects keys before it sends one request);
* :mod:`~resolvers.dataloaders.loader` — :class:`SourceLoader`: one hop to one
  system, failures isolated per key, every batch traced;
* :mod:`~resolvers.dataloaders.trace` — the per-request trace of upstream
  calls and the dependent round trips it took;
* :mod:`~resolvers.dataloaders.registry` — :class:`Loaders`: every hop the graph
  can make, created per request inside the running loop;
* :mod:`~resolvers.dataloaders.prefetch` — the look-ahead: what is asked for
  before the graph walks down to it, from which batch, and why.
"""
