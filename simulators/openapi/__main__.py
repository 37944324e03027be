"""``python -m simulators.openapi``: rewrite the committed OpenAPI documents."""

from __future__ import annotations

from simulators.openapi import write_all

if __name__ == "__main__":
    for path in write_all():
        print(path)
