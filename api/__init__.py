"""The gateway's edge: the Starlette app, settings, middleware, GraphiQL and the CLI."""
