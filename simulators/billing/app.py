"""The Stripe-shaped billing simulator app: routes, auth, parameter decoding, idempotency.

Every vendor route goes through :func:`_endpoint`: the API key check (Bearer,
or HTTP Basic with the key as user name), Stripe form decoding of the query
string and the form body, the ``Idempotency-Key`` replay for POSTs, and
:class:`~simulators.billing.errors.StripeError` → Stripe's error body. Faults,
stats and webhooks settings are the shared ``/_sim`` routes; Stripe's rate
limits (:mod:`simulators.billing.limits`) run in front of the routes when
``/_sim/limits`` switches them on; ``/_sim/account`` sets the default API
version (:mod:`simulators.billing.versions`); ``/_sim/openapi.json`` serves
the OpenAPI document (:mod:`simulators.billing.openapi`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from simulators.billing import customers, eventlog, invoices, prices, subscriptions
from simulators.billing.context import Billing, Call
from simulators.billing.errors import InvalidParams, StripeError, dumps, json_response
from simulators.billing.events import Events
from simulators.billing.forms import Params, decode
from simulators.billing.idempotency import REPLAYED, Answer, IdempotencyKeys
from simulators.billing.invoice_numbers import InvoiceNumbers
from simulators.billing.limits import StripeRateLimitGate, stripe_limits
from simulators.billing.objects import Objects
from simulators.billing.openapi import billing_document
from simulators.billing.versions import Account, parse_version, present
from simulators.config import SimulatorConfig
from simulators.control import VendorResponses, build_simulator
from simulators.openapi import openapi_routes
from simulators.storage import DocumentStore

Handler = Callable[[Billing, Call], Awaitable[dict[str, Any]]]

_MISSING_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
_KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_")


def _api_key(request: Request) -> str | None:
    """The key sent as ``Bearer <key>`` or as the Basic auth user name; None if none."""
    header = request.headers.get("authorization", "").strip()
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            user = base64.b64decode(value, validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return "<malformed basic credentials>"
        return user or None
    return header or None


def _masked(key: str) -> str:
    """The key as Stripe echoes it: known prefix and last four characters kept."""
    prefix = next((p for p in _KEY_PREFIXES if key.startswith(p)), "")
    rest = key[len(prefix) :]
    if len(rest) <= 4:
        return prefix + "*" * len(rest)
    return prefix + "*" * (len(rest) - 4) + rest[-4:]


def _unauthorized(key: str | None) -> Response:
    message = _MISSING_KEY if key is None else f"Invalid API Key provided: {_masked(key)}"
    return json_response(
        401,
        {"error": {"type": "invalid_request_error", "message": message}},
        headers={"WWW-Authenticate": 'Basic realm="Stripe"'},
    )


VENDOR = VendorResponses(
    # The key check runs in each endpoint instead (after the faults, where the shared
    # middleware would run it): Stripe words a missing and a wrong key differently and
    # echoes the masked key, which a request-less ``unauthorized()`` cannot do.
    authorized=lambda request: True,
    unauthorized=lambda: _unauthorized(None),
    server_error=lambda: json_response(
        500,
        {"error": {"type": "api_error", "message": "An unknown error occurred"}},
    ),
    unavailable=lambda: json_response(
        503,
        {
            "error": {
                "type": "api_error",
                "message": "Stripe is temporarily unavailable. Please try again later.",
            }
        },
    ),
)


async def _pairs(request: Request) -> list[tuple[str, str]]:
    """Query string and (for POST) form body pairs; Stripe reads both."""
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method == "POST":
        body = await request.body()
        if body:
            if request.headers.get("content-type", "").startswith("application/json"):
                raise InvalidParams(
                    "Invalid request: the body must be form-encoded "
                    "(application/x-www-form-urlencoded), not JSON."
                )
            try:
                text = body.decode()
            except UnicodeDecodeError:
                raise InvalidParams("Invalid request: the body is not UTF-8.") from None
            pairs += parse_qsl(text, keep_blank_values=True)
    return pairs


def _account_routes(account: Account) -> list[BaseRoute]:
    """``GET/POST /_sim/account``: the account's default API version
    (``{"api_version": "2025-03-31.basil"}``), used when a request sends no
    ``Stripe-Version`` and for every event."""

    def show() -> Response:
        return JSONResponse({"api_version": account.default_version.name})

    async def get(request: Request) -> Response:
        return show()

    async def set_(request: Request) -> Response:
        try:
            body: Any = await request.json()
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        if not isinstance(body, dict) or not isinstance(body.get("api_version"), str):
            return JSONResponse({"error": 'body must be {"api_version": str}'}, status_code=400)
        try:
            account.default_version = parse_version(body["api_version"])
        except StripeError as exc:
            return JSONResponse({"error": exc.message}, status_code=400)
        return show()

    return [
        Route("/_sim/account", get, methods=["GET"]),
        Route("/_sim/account", set_, methods=["POST"]),
    ]


def create_app(store: DocumentStore, config: SimulatorConfig) -> Starlette:
    """The billing simulator over ``store``, accepting ``config.token``."""
    objects = Objects(store)
    account = Account()
    events = Events(objects, secret=config.webhook_secret, url=config.webhook_url, account=account)
    billing = Billing(objects, events, InvoiceNumbers(store), config, account)
    keys = IdempotencyKeys(objects)

    def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            key = _api_key(request)
            if key != config.token:
                return _unauthorized(key)
            request_id = "req_" + objects.token()
            headers = {"Request-Id": request_id}
            try:
                version = account.version_for(request.headers.get("stripe-version"))
                headers["Stripe-Version"] = version.name
                params = decode(await _pairs(request))
            except StripeError as exc:
                return json_response(exc.status, exc.body(), headers)
            idempotency_key = (
                request.headers.get("idempotency-key") if request.method == "POST" else None
            )
            call = Call(
                method=request.method,
                path=request.url.path,
                params=Params(params),
                path_params=dict(request.path_params),
                request_id=request_id,
                idempotency_key=idempotency_key,
                api_version=version,
            )

            async def execute() -> Answer:
                try:
                    body = await handler(billing, call)
                except InvalidParams as exc:
                    return Answer(exc.status, dumps(exc.body()), request_id, saveable=False)
                except StripeError as exc:
                    return Answer(exc.status, dumps(exc.body()), request_id)
                return Answer(200, dumps(present(body, version)), request_id)

            if idempotency_key is None:
                answer, replayed = await execute(), False
            else:
                try:
                    answer, replayed = await keys.run(
                        idempotency_key,
                        method=call.method,
                        path=call.path,
                        params=params,
                        execute=execute,
                    )
                except StripeError as exc:
                    return json_response(exc.status, exc.body(), headers)
                headers["Idempotency-Key"] = idempotency_key
                headers["Request-Id"] = answer.request_id
                if replayed:
                    headers[REPLAYED] = "true"
            return Response(
                answer.body.encode(),
                status_code=answer.status,
                headers=headers,
                media_type="application/json",
            )

        return run

    async def unrecognized(request: Request) -> Response:
        key = _api_key(request)
        if key != config.token:
            return _unauthorized(key)
        return json_response(
            404,
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": f"Unrecognized request URL ({request.method}: {request.url.path}). "
                    "Please see https://stripe.com/docs or we can help at "
                    "https://support.stripe.com/.",
                }
            },
        )

    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(path, endpoint(handler), methods=[method])

    routes: list[BaseRoute] = [
        route("/v1/customers", customers.list_customers, "GET"),
        route("/v1/customers", customers.create_customer, "POST"),
        route("/v1/customers/search", customers.search_customers, "GET"),
        route("/v1/customers/{id}", customers.retrieve_customer, "GET"),
        route("/v1/customers/{id}", customers.update_customer, "POST"),
        route("/v1/customers/{id}", customers.delete_customer, "DELETE"),
        route("/v1/subscriptions", subscriptions.list_subscriptions, "GET"),
        route("/v1/subscriptions", subscriptions.create_subscription, "POST"),
        route("/v1/subscriptions/{id}", subscriptions.retrieve_subscription, "GET"),
        route("/v1/subscriptions/{id}", subscriptions.update_subscription, "POST"),
        route("/v1/subscriptions/{id}", subscriptions.cancel_subscription, "DELETE"),
        route("/v1/invoices", invoices.list_invoices, "GET"),
        route("/v1/invoices", invoices.create_invoice, "POST"),
        route("/v1/invoices/{id}", invoices.retrieve_invoice, "GET"),
        route("/v1/invoices/{id}", invoices.update_invoice, "POST"),
        route("/v1/invoices/{id}/lines", invoices.list_lines, "GET"),
        route("/v1/invoices/{id}/finalize", invoices.finalize_invoice, "POST"),
        route("/v1/invoices/{id}/pay", invoices.pay_invoice, "POST"),
        route("/v1/invoices/{id}/void", invoices.void_invoice, "POST"),
        route("/v1/invoices/{id}/mark_uncollectible", invoices.mark_uncollectible, "POST"),
        route("/v1/prices", prices.create_price, "POST"),
        route("/v1/prices/{id}", prices.retrieve_price, "GET"),
        route("/v1/events", eventlog.list_events, "GET"),
        route("/v1/events/{id}", eventlog.retrieve_event, "GET"),
        # Last: any other path or method gets Stripe's "Unrecognized request URL".
        Route("/{path:path}", unrecognized, methods=["GET", "POST", "DELETE", "PUT", "PATCH"]),
    ]
    limits = stripe_limits(enabled=config.limits_enabled)
    app = build_simulator(
        "BILLING",
        routes,
        VENDOR,
        limits=limits,
        gate=lambda inner: StripeRateLimitGate(inner, limits, routes),
        extra_control=[
            *events.sender.control_routes(),
            *_account_routes(account),
            *openapi_routes(billing_document()),
        ],
    )
    app.state.billing = billing
    return app
