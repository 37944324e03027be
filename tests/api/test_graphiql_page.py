"""GraphiQL as an analyst sees it: a real browser, no internet, the QuoteToCash tab run.

Headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by
selenium through the system chromedriver: nothing is downloaded) opens the
gateway's page with every name but 127.0.0.1 unresolvable and every other
address sent to a proxy that does not exist, so a page that needed a CDN would
stay blank. The test runs the first tab and reads the result pane, and checks
that every resource the page loaded came from the gateway.

Skipped only when chromium or chromedriver is not installed (CI installs them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from api.demo import Stack
from api.graphiql import ASSETS_PREFIX, SCRIPTS, STYLESHEETS, assets, example

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver "
    "(apt-get install -y chromium chromium-driver)",
)

WAIT_S = 60.0
"""Upper bound for the page to render and for the query to answer (both take ~1 s)."""

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
RESULT_PANE = ".result-window .CodeMirror"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'profile'}",
        # The network is off: no name resolves but 127.0.0.1, and any address
        # literal goes to a proxy nobody listens on (loopback bypasses proxies).
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        options=options,
        service=Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "driver.log")),
    )
    try:
        yield driver
    finally:
        driver.quit()


def editor_text(driver: Any, selector: str) -> str | None:
    """The whole text of a CodeMirror editor (its DOM shows only the visible lines)."""
    text: str | None = driver.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "return e && e.CodeMirror ? e.CodeMirror.getValue() : null;",
        selector,
    )
    return text


@needs_chromium
def test_graphiql_runs_quote_to_cash_offline(stack: Stack, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(stack.graphql_url)
    wait = WebDriverWait(browser, WAIT_S)
    try:
        run = wait.until(
            lambda d: d.find_element(By.CSS_SELECTOR, ".graphiql-execute-button"),
            "GraphiQL did not render",
        )
        # The first tab is QuoteToCash, opened in the query editor.
        query = wait.until(lambda d: editor_text(d, QUERY_EDITOR))
        assert query == example("quote_to_cash")
        run.click()
        result = wait.until(
            lambda d: (text := editor_text(d, RESULT_PANE)) and '"customers"' in text and text,
            "the result pane never showed the customers",
        )
        assert isinstance(result, str)
    finally:
        browser.save_screenshot(str(tmp_path / "graphiql.png"))

    shown = json.loads(result)
    assert "errors" not in shown
    names = [edge["node"]["name"] for edge in shown["data"]["customers"]["edges"]]
    answered = httpx.post(
        stack.graphql_url, json={"query": example("quote_to_cash")}, timeout=30
    ).json()
    assert names and names == [
        edge["node"]["name"] for edge in answered["data"]["customers"]["edges"]
    ]
    assert all(names)

    # Every resource the page loaded (scripts, styles, the query itself) came from
    # the gateway, and the page's own assets are among them.
    gateway = urlsplit(stack.gateway_url).netloc
    loaded: list[str] = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);"
    )
    assert loaded and {urlsplit(url).netloc for url in loaded} == {gateway}
    served = {
        Path(urlsplit(url).path).name
        for url in loaded
        if urlsplit(url).path.startswith(f"/{ASSETS_PREFIX}/")
    }
    assert served == {*SCRIPTS, *STYLESHEETS}
    # Nothing failed in the console (a refused request or an integrity mismatch would).
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


# --- The assets over HTTP ---------------------------------------------------------------


def test_the_page_names_its_assets_relatively_and_the_gateway_serves_them(stack: Stack) -> None:
    with httpx.Client(timeout=30) as http:
        page = http.get(stack.graphql_url, headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "unpkg" not in page.text and "://" not in page.text.split("<body>")[0]
        linked = re.findall(r'(?:src|href)="(_graphiql/[^"]+)" integrity="([^"]+)"', page.text)
        assert {Path(url).name for url, _ in linked} == {*SCRIPTS, *STYLESHEETS}
        for url, integrity in linked:
            # Relative to the page: /graphql → /_graphiql/<digest>/<name>.
            answer = http.get(httpx.URL(stack.graphql_url).join(url))
            assert answer.status_code == 200, url
            assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
            kind = "text/css" if url.endswith(".css") else "text/javascript"
            assert answer.headers["content-type"].startswith(kind)
            digest = base64.b64encode(hashlib.sha384(answer.content).digest()).decode()
            assert integrity == f"sha384-{digest}"
            again = http.get(answer.url, headers={"if-none-match": answer.headers["etag"]})
            assert again.status_code == 304 and again.content == b""
        assert http.head(answer.url).status_code == 200


@pytest.mark.parametrize(
    "path", [f"/{ASSETS_PREFIX}/0000000000000000/graphiql.min.js", "/{prefix}/{digest}/nope.js"]
)
def test_unknown_assets_are_uncached_404s(stack: Stack, path: str) -> None:
    path = path.format(prefix=ASSETS_PREFIX, digest=assets().digest)
    answer = httpx.get(f"{stack.gateway_url}{path}", timeout=30)
    assert answer.status_code == 404
    assert answer.headers["cache-control"] == "no-store"
