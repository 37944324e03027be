"""Alembic scripts for the store (run through store.migrate)."""
