"""The gateway's own logic: ownership, crosswalk, lifecycle, flows, consistency, money.

Nothing here knows about HTTP requests or GraphQL; it talks to the systems of
record through :mod:`sources` and keeps its state through :mod:`store`.
"""
