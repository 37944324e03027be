"""The built wheel is complete: installed on its own, it serves the GraphiQL page.

A source tree hides missing package data (every file is next to the code), so
this test builds the wheel from a copy of the tree, installs it into a fresh
virtual environment and runs the installed gateway from a directory outside the
repository. The new environment sees the test environment's third-party packages
through a ``.pth`` line (not as a site directory, so this project's editable
install is not activated there): nothing is downloaded and it takes a few seconds.
"""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from api.demo import Stack
from api.graphiql import EXAMPLES, SCRIPTS, STYLESHEETS

REPO = Path(__file__).resolve().parents[1]

# What the wheel must carry besides modules: every file the code reads at run time.
PACKAGE_DATA = (
    *(f"api/examples/{name}.graphql" for name in EXAMPLES),
    "store/migrations/script.py.mako",
    "store/migrations/env.py",
    "domain/consistency/default_policy.toml",
)

# Run by the new environment's python from outside the repository, configured by
# the environment (a fresh SQLite store, the test stack's simulators); prints what it saw.
CHECK = """
import asyncio, json, os, re

import api, store
from starlette.testclient import TestClient

from api.app import create_app
from api.graphiql import EXAMPLES, example
from store.migrate import upgrade

asyncio.run(upgrade(os.environ["DATABASE_URL"]))
with TestClient(create_app()) as client:  # the lifespan opens the store and the clients
    page = client.get("/graphql", headers={"accept": "text/html"})
    assets = {}
    for url in re.findall(r'(?:src|href)="(_graphiql/[^"]+)"', page.text):
        answer = client.get("/" + url)
        assets[url.rsplit("/", 1)[1]] = [answer.status_code, len(answer.content)]
    answer = client.post("/graphql", json={"query": example("quote_to_cash")}).json()
print(json.dumps({
    "api": api.__file__,
    "store": store.__file__,
    "page": [page.status_code, page.headers.get("content-type", "")],
    "examples_in_page": all(json.dumps(example(n))[1:30] in page.text for n in EXAMPLES),
    "assets": assets,
    "customers": len((answer.get("data") or {}).get("customers", {}).get("edges", [])),
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the working tree (so no build/ lands in the repo)."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "src"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "tests",
            "build",
            "dist",
            "*.egg-info",
            "__pycache__",
            ".*_cache",
            ".revgraph",
            "*.sqlite3",
        ),
    )
    dist = work / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(source),
        ],
        check=True,
        timeout=120,
    )
    (built,) = dist.glob("revgraph-*.whl")
    return built


def test_the_wheel_ships_every_data_file_the_code_reads(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [path for path in PACKAGE_DATA if path not in names]
    assert missing == []
    assert any(n.startswith("store/migrations/versions/") and n.endswith(".py") for n in names)
    assert not any(n.startswith("tests/") for n in names)


def test_an_installed_wheel_serves_the_graphiql_page_and_its_assets(
    wheel: Path, tmp_path: Path, stack: Stack
) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        [sys._base_executable, "-m", "venv", "--without-pip", str(venv)],  # type: ignore[attr-defined]
        check=True,
        timeout=60,
    )
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.strip()
    # The test environment's dependencies, after the venv's own site-packages.
    ours = {*site.getsitepackages(), sysconfig.get_paths()["purelib"]}
    Path(purelib, "_revgraph_test_deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        timeout=120,
    )

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(outside),
        "DATABASE_URL": f"sqlite+aiosqlite:///{outside / 'store.sqlite3'}",
    }
    for system, url in stack.simulator_urls.items():
        env[f"REVGRAPH_{system}_URL"] = url
        env[f"REVGRAPH_{system}_TOKEN"] = getattr(stack.settings, system.lower()).token
    env["REVGRAPH_API_GRAPHIQL"] = "true"  # off by default; the check opens the page
    env["REVGRAPH_AUTH_ANONYMOUS_ROLE"] = "viewer"  # the check reads without a key
    ran = subprocess.run(
        [str(python), "-c", CHECK],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    seen = json.loads(ran.stdout.strip().splitlines()[-1])

    # The installed copy answered, not the source tree.
    assert seen["api"].startswith(purelib) and seen["store"].startswith(purelib)
    assert seen["page"][0] == 200 and seen["page"][1].startswith("text/html")
    assert seen["examples_in_page"]
    assert set(seen["assets"]) == {*SCRIPTS, *STYLESHEETS}
    assert all(status == 200 and size > 1000 for status, size in seen["assets"].values())
    assert seen["customers"] > 0

    # The console script is installed and starts.
    cli = subprocess.run(
        [str(venv / "bin" / "revgraph"), "--help"],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert "serve" in cli.stdout
