"""Adapters for the four systems of record.

One adapter per system, all on :class:`sources.base.SourceClient`. Nothing in this
package knows about GraphQL or the gateway's store: it speaks each vendor's wire
format and translates failures into :mod:`sources.errors`.
"""
