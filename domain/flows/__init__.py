"""Durable cross-system flows: the engine and one module per flow."""
