"""The GraphQL layer: strawberry types, queries and per-request DataLoaders."""
