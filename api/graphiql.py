"""The GraphiQL page analysts land on, opened with the example documents as tabs.

The page works offline: GraphiQL and React are not fetched from a CDN but served
by the gateway itself, from the files of the ``graphene-django-graphiql-static``
distribution (a dependency: the assets are installed with the gateway, not kept in
this repository). Only its static files are read; the Django view it also ships is
never imported. Its bundle is GraphiQL 2 on React 17 (``ReactDOM.render``).

The files are answered at ``/_graphiql/<digest>/<name>`` by :func:`assets_route`.
``<digest>`` is a hash of the whole asset set, so a new dependency version gets new
URLs and every answer can be cached as immutable. The page names them with a
relative URL (``_graphiql/...``), so it also works behind a path prefix, and with
``integrity`` attributes, so a browser runs only the bytes the gateway hashed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

ASSETS_PACKAGE = "graphene_django_graphiql_static"
"""The installed package whose static files are GraphiQL's and React's."""

ASSETS_PREFIX = "_graphiql"
"""First path segment of the asset URLs (relative to the page, absolute in the app)."""

# The files the page loads, in the order it loads them (React before GraphiQL).
SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js")
STYLESHEETS = ("graphiql.min.css",)

_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_IMMUTABLE = "public, max-age=31536000, immutable"

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <title>Revgraph · GraphiQL</title>
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <link rel="icon" href="data:," />
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
{stylesheets}
</head>
<body>
  <div id="graphiql">Loading GraphiQL… (it needs JavaScript; without it, POST to this URL
  with curl — see the README)</div>
{scripts}
  <script>
    const tabs = {tabs};
    const fetcher = GraphiQL.createFetcher({{ url: window.location.pathname }});
    ReactDOM.render(
      React.createElement(GraphiQL, {{
        fetcher,
        defaultTabs: tabs,
        defaultEditorToolsVisibility: true,
        isHeadersEditorEnabled: true,
      }}),
      document.getElementById("graphiql")
    );
  </script>
</body>
</html>
"""

EXAMPLES = (
    "quote_to_cash",
    "customer_hierarchy",
    "invoices_missing_posting",
    "writes",
    "consistency",
)

# Characters that could end the <script> element or open an HTML comment inside it,
# written as JSON escapes (same string for JavaScript, inert for the HTML parser).
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


@dataclass(frozen=True)
class Asset:
    """One static file the page loads, held in memory."""

    name: str
    body: bytes
    media_type: str

    @property
    def integrity(self) -> str:
        """The Subresource Integrity value of the file (``sha384-...``)."""
        digest = hashlib.sha384(self.body).digest()
        return f"sha384-{base64.b64encode(digest).decode()}"


@dataclass(frozen=True)
class Assets:
    """The page's static files and the digest that versions their URLs."""

    files: dict[str, Asset]
    digest: str

    def url(self, name: str) -> str:
        """The URL of one file, relative to the page (``/graphql`` → ``/_graphiql/...``)."""
        return f"{ASSETS_PREFIX}/{self.digest}/{name}"


@cache
def assets() -> Assets:
    """GraphiQL's and React's files, read once from the installed dependency."""
    folder = resources.files(ASSETS_PACKAGE).joinpath("static", ASSETS_PACKAGE)
    files: dict[str, Asset] = {}
    overall = hashlib.sha256()
    for name in (*SCRIPTS, *STYLESHEETS):
        body = folder.joinpath(name).read_bytes()
        files[name] = Asset(name, body, _MEDIA_TYPES[name[name.rindex(".") :]])
        overall.update(name.encode() + b"\0" + hashlib.sha256(body).digest())
    return Assets(files, overall.hexdigest()[:16])


def example(name: str) -> str:
    """The text of one example document shipped in api/examples."""
    return resources.files("api").joinpath("examples", f"{name}.graphql").read_text()


def render_page(documents: Sequence[str], headers: str | None = None) -> str:
    """The GraphiQL page opened with one tab per document, in order, each with
    ``headers`` (JSON) in its headers pane when given."""
    shipped = assets()
    stylesheets = "\n".join(
        f'  <link rel="stylesheet" href="{shipped.url(name)}"'
        f' integrity="{shipped.files[name].integrity}" />'
        for name in STYLESHEETS
    )
    scripts = "\n".join(
        f'  <script src="{shipped.url(name)}" integrity="{shipped.files[name].integrity}"></script>'
        for name in SCRIPTS
    )
    tabs = [
        {"query": document, **({"headers": headers} if headers else {})} for document in documents
    ]
    # json.dumps escapes U+2028/U+2029 (ensure_ascii); "<", ">" and "&" are escaped
    # here, so no document can close the script element, whatever it contains.
    return _PAGE.format(
        stylesheets=stylesheets,
        scripts=scripts,
        tabs=json.dumps(tabs).translate(_SCRIPT_SAFE),
    )


@cache
def graphiql_html(headers: str | None = None) -> str:
    """The page analysts get at ``GET /graphql``: the example documents as tabs
    (``headers``: what their headers panes start with, e.g. an Authorization)."""
    return render_page([example(name) for name in EXAMPLES], headers)


async def _serve_asset(request: Request) -> Response:
    shipped = assets()
    asset = shipped.files.get(request.path_params["name"])
    if asset is None or request.path_params["digest"] != shipped.digest:
        # An unknown file, or one of another version's URLs: never cache the miss.
        return PlainTextResponse("Not Found", 404, headers={"Cache-Control": "no-store"})
    etag = f'"{shipped.digest}-{asset.name}"'
    headers = {"Cache-Control": _IMMUTABLE, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def assets_route() -> Route:
    """The route answering the page's static files; the app puts it in its routes."""
    return Route(f"/{ASSETS_PREFIX}/{{digest}}/{{name}}", _serve_asset, methods=["GET", "HEAD"])
