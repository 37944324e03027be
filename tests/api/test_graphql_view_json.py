"""The view's fast JSON encoder writes the bytes strawberry's ``json.dumps`` wrote."""

from __future__ import annotations

import enum
import json

import pytest

from api.graphql_view import GraphQLView, encode_json


def stdlib(data: object) -> bytes:
    """Strawberry's default ``encode_json``, as bytes (it is ASCII)."""
    return json.dumps(data, separators=(",", ":")).encode()


RESPONSE = {
    "data": {
        "customers": {
            "edges": [
                {
                    "node": {
                        "id": "Q3VzdG9tZXI6MDAxMDAwMDAwMDAwMDAx",
                        "name": "Acme GmbH",
                        "parent": None,
                        "contracts": {
                            "edges": [
                                {
                                    "node": {
                                        "number": "C-1042",
                                        "version": 3,
                                        "totalValue": {"amount": "1200.00", "currency": "EUR"},
                                        "invoices": [],
                                    }
                                }
                            ]
                        },
                    }
                }
            ],
            "pageInfo": {"hasNextPage": True, "endCursor": "YXJyYXljb25uZWN0aW9uOjQ5"},
        }
    },
    "errors": [
        {
            "message": "Billing is unavailable.",
            "locations": [{"line": 3, "column": 5}],
            "path": ["customers", "edges", 0, "node", "contracts"],
            "extensions": {"code": "SOURCE_UNAVAILABLE", "system": "BILLING"},
        }
    ],
    "extensions": {"trace": {"calls": 4, "p50Seconds": 0.0125, "ok": False}},
}

SAME_BYTES = [
    pytest.param(RESPONSE, id="graphql-response"),
    pytest.param({"name": "Zoë Müller", "city": "Łódź"}, id="latin"),
    pytest.param({"name": "東京 株式会社", "note": "\u2028\u2029"}, id="bmp-and-line-separators"),
    pytest.param({"emoji": "deal 🤝 closed 🎉", "math": "\U0001d538"}, id="astral-surrogate-pairs"),
    pytest.param(
        {"controls": "\x00\x01\x08\x09\x0a\x0c\x0d\x1f", "quote": '"\\/', "del": "a\x7fb"},
        id="controls-quotes-del",
    ),
    pytest.param([[[]], [[1, [2, [3, ["é"]]]]], {}, [{}], [None, True, False]], id="nested-lists"),
    pytest.param(
        {"ints": [0, -1, 2**31, 2**63, 2**64, -(2**70)], "floats": [0.0, -0.0, 0.1, 1.5, 1e15]},
        id="numbers",
    ),
    pytest.param({"a": (1, "two", ("é",))}, id="tuples"),
    pytest.param({1: "int key", 2.5: "float key"}, id="number-keys"),
    pytest.param({True: "bool key", None: "null key"}, id="keys-only-stdlib-takes"),
    pytest.param({"lone": "\ud800"}, id="lone-surrogate-falls-back"),
    pytest.param("", id="empty-string"),
    pytest.param({}, id="empty-object"),
]


@pytest.mark.parametrize("payload", SAME_BYTES)
def test_same_bytes_as_json_dumps(payload: object) -> None:
    assert encode_json(payload) == stdlib(payload)


def test_the_view_uses_it() -> None:
    payload = {"data": {"name": "Zoë 🤝"}}
    encoded = GraphQLView().encode_json(payload)
    assert encoded == stdlib(payload) == b'{"data":{"name":"Zo\\u00eb \\ud83e\\udd1d"}}'


def test_exponent_floats_are_the_same_numbers() -> None:
    payload = {"small": [1e-7, 5e-05, 2.5e-300], "large": [1e16, 1.5e300]}
    assert json.loads(encode_json(payload)) == payload


def test_non_finite_floats_become_null() -> None:
    # Not JSON: json.dumps writes NaN/Infinity; GraphQL's Float never yields them.
    assert encode_json([float("nan"), float("inf")]) == b"[null,null]"


def test_what_neither_encodes_still_fails() -> None:
    with pytest.raises(TypeError):
        encode_json({"obj": object()})


def test_enums_are_encoded_by_value() -> None:
    class Stage(enum.Enum):
        BILLED = "billed"

    assert encode_json({"stage": Stage.BILLED}) == b'{"stage":"billed"}'
