"""Looking up the objects a call addresses or refers to, with Stripe's not-found errors.

The addressed object (``/v1/customers/{id}``) missing is a 404; an object
named in a parameter (``customer=cus_x``) missing is a 400 naming that param.
"""

from __future__ import annotations

from simulators.billing.context import Billing
from simulators.billing.errors import missing
from simulators.storage import Document


def existing(billing: Billing, kind: str, object_id: str, *, param: str | None = None) -> Document:
    """The stored object (deleted customers excluded), or Stripe's ``resource_missing``."""
    doc = billing.objects.get(kind, object_id)
    if doc is None or doc.get("deleted"):
        if param is None:
            raise missing(kind, object_id)
        raise missing(kind, object_id, param=param, status=400)
    return doc
