"""The ``/graphql`` endpoint: strawberry's ASGI view with Revgraph's context and GraphiQL."""

from __future__ import annotations

from typing import Any

import strawberry
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from api.graphiql import graphiql_html
from api.resources import Resources
from resolvers.context import Context
from resolvers.schema import schema as default_schema
from sources.correlation import current_correlation_id


class GraphQLView(GraphQL[Context, None]):
    """Builds a fresh :class:`Context` (and DataLoaders) per request, in the running loop."""

    resources: Resources

    def __init__(self, schema: strawberry.Schema | None = None, **kwargs: Any) -> None:
        super().__init__(schema or default_schema, graphql_ide="graphiql", **kwargs)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context.create(
            self.resources.clients,
            self.resources.crosswalk,
            current_correlation_id(),
            request=request,
            response=response,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_html())
