"""Invoice numbers ``RG-000123``: assigned on finalization, continuing after the highest stored."""

from __future__ import annotations

import re

from simulators.storage import DocumentStore

_NUMBER = re.compile(r"^RG-(\d+)$")


class InvoiceNumbers:
    """The next invoice number; the stored maximum is read once, on first use."""

    def __init__(self, store: DocumentStore) -> None:
        self._store = store
        self._last: int | None = None

    def next(self) -> str:
        if self._last is None:
            numbers = [
                int(m.group(1))
                for doc in self._store.all("invoice")
                if (m := _NUMBER.match(str(doc.get("number") or "")))
            ]
            self._last = max(numbers, default=0)
        self._last += 1
        return f"RG-{self._last:06d}"
