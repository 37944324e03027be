"""The GraphiQL page analysts land on, opened with the example documents as tabs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib import resources

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <title>Revgraph · GraphiQL</title>
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
  <link rel="stylesheet" href="https://unpkg.com/graphiql@3.8.3/graphiql.min.css" />
</head>
<body>
  <div id="graphiql">Loading GraphiQL… (it needs unpkg.com; without it, POST to this URL
  with curl — see the README)</div>
  <script crossorigin src="https://unpkg.com/react@18.2.0/umd/react.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/graphiql@3.8.3/graphiql.min.js"></script>
  <script>
    const tabs = {tabs};
    const fetcher = GraphiQL.createFetcher({{ url: window.location.pathname }});
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {{
        fetcher,
        defaultTabs: tabs,
        defaultEditorToolsVisibility: true,
        isHeadersEditorEnabled: true,
      }})
    );
  </script>
</body>
</html>
"""

EXAMPLES = ("quote_to_cash", "customer_hierarchy", "invoices_missing_posting")

# Characters that could end the <script> element or open an HTML comment inside it,
# written as JSON escapes (same string for JavaScript, inert for the HTML parser).
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def example(name: str) -> str:
    """The text of one example document shipped in api/examples."""
    return resources.files("api").joinpath("examples", f"{name}.graphql").read_text()


def render_page(documents: Sequence[str]) -> str:
    """The GraphiQL page opened with one tab per document, in order."""
    tabs = [{"query": document} for document in documents]
    # json.dumps escapes U+2028/U+2029 (ensure_ascii); "<", ">" and "&" are escaped
    # here, so no document can close the script element, whatever it contains.
    return _PAGE.format(tabs=json.dumps(tabs).translate(_SCRIPT_SAFE))


@cache
def graphiql_html() -> str:
    """The page analysts get at ``GET /graphql``: the example documents as tabs."""
    return render_page([example(name) for name in EXAMPLES])
