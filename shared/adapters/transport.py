"""Transport guards on every Azure client (azure-core policies: where requests go, how long they
take, how far paging runs), JSON reading (a wrong shape is permanent), the raw-ARM `ArmAdapter`."""

from __future__ import annotations

import functools
import inspect
import json
import threading
import time
from collections.abc import Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlsplit

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    DeserializationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    map_error,
)
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy

from shared.adapters.answers import check_named
from shared.adapters.read_budget import ReadBudget, ReadBudgetPolicy, header_number
from shared.arm import name_of, resource_group_of, subscription_of
from shared.bounds import excerpt, redacted
from shared.config import Origin, origin_of
from shared.model import JudgedAnswerError

if TYPE_CHECKING:
    from azure.core import PipelineClient
    from azure.core.credentials import TokenCredential
    from azure.core.rest import HttpRequest, HttpResponse

    # clients.py imports this module: the annotations only.
    from shared.adapters.clients import AzureClients
    from shared.ownership import AppIdentity

# Then the error goes up: Event Grid's redelivery backoff is longer than one invocation's.
RETRY_TOTAL = 4
# The longest a service may make us wait between two tries, whatever Retry-After it sends.
RETRY_AFTER_CAP_SECONDS = 5.0
# One paged read's pages and wall-clock time: the lists the app reads are small.
MAX_PAGES = 100
READ_DEADLINE_SECONDS = 120.0

_show = "{}://{}:{}".format


class ForeignEndpointError(ClientAuthenticationError):
    """A request to an origin the client was not configured for; no credential goes there. An
    authentication error: azure-core's RetryPolicy re-raises it at once, `is_transient` says no."""


class MalformedResponseError(AzureError):
    """A response of the wrong shape (not JSON, a list where an object belongs, ...)."""


class PagingError(AzureError):
    """A paged read that did not end: too many pages, a repeated nextLink, or out of time."""


class EndpointGuardPolicy(SansIOHTTPPolicy[Any, Any]):
    """Refuses requests to any origin but the allowed ones. Per call (each page's nextLink is the
    service's choice) and per retry (every attempt and redirect hop, before the token is added)."""

    def __init__(self, *allowed_urls: str):
        if not allowed_urls:
            raise ValueError("EndpointGuardPolicy needs at least one allowed endpoint")
        self.allowed: frozenset[Origin] = frozenset(origin_of(url) for url in allowed_urls)

    def check(self, url: str) -> None:
        try:
            origin = origin_of(url)
        except ValueError as error:
            # Neither the URL nor the error repeats a credential in it (a nextLink is Azure's).
            shown, why = excerpt(url, 200), redacted(str(error))
            raise ForeignEndpointError(f"refused a request to {shown!r}: {why}") from None
        if origin not in self.allowed:
            allowed = ", ".join(sorted(_show(*o) for o in self.allowed))
            raise ForeignEndpointError(
                f"refused a request to {_show(*origin)}: not a configured endpoint ({allowed})"
            )

    def on_request(self, request: PipelineRequest[Any]) -> None:
        self.check(request.http_request.url)


class RetryAfterCapPolicy(SansIOHTTPPolicy[Any, Any]):
    """Caps every response's Retry-After headers. Per retry, not a RetryPolicy subclass: Tables
    and Event Grid build their own RetryPolicy, LRO pollers read the header; every try passes.
    Also a `raw_response_hook`: azure-identity's pipeline takes no policies, only that hook."""

    def on_response(
        self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]
    ) -> None:
        self(response)

    def __call__(self, response: PipelineResponse[Any, Any]) -> None:
        headers = response.http_response.headers
        for name in ("retry-after-ms", "x-ms-retry-after-ms", "retry-after"):
            # Retry-After counts seconds or is an HTTP date; the others count milliseconds.
            seconds = name == "retry-after"
            cap = RETRY_AFTER_CAP_SECONDS * (1 if seconds else 1000)
            value = header_number(headers, name, dates=seconds)
            # `not <=` so that NaN (float("nan") parses) is capped as well.
            if value is not None and not value <= cap:
                headers[name] = f"{cap:g}"


def _page_key(url: str) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """A page's identity, api-version aside and query sorted: SDKs re-add and re-encode them."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = sorted((k, v) for k, v in query if k.lower() != "api-version")
    return f"{parts.scheme}://{parts.netloc}".lower(), parts.path.lower(), tuple(kept)


def check_next_page(
    what: str, page: object, read: Collection[object], max_pages: int | None, link: str
) -> None:
    """`PagingError` unless a read past pages `read` may go on to `page`: new, within max_pages."""
    if page in read:
        raise PagingError(f"{what}: {link} repeats an earlier page; read stopped")
    if max_pages is not None and len(read) >= max_pages:
        raise PagingError(f"{what}: more than {max_pages} pages; read stopped")


class PagingPolicy(SansIOHTTPPolicy[Any, Any]):
    """Bounds each paged read (per thread, GETs each to the last nextLink): a repeated page, too
    many pages or too long raise `PagingError`. A policy: azure-ai-ml pages inside its own calls."""

    def __init__(self) -> None:
        self._local = threading.local()

    def on_request(self, request: PipelineRequest[Any]) -> None:
        max_pages = request.context.options.pop("paging_max_pages", MAX_PAGES)
        deadline = request.context.options.pop("paging_deadline_seconds", READ_DEADLINE_SECONDS)
        key = _page_key(request.http_request.url)
        state = self._local.__dict__
        if request.http_request.method == "GET" and key == state.get("next"):
            check_next_page(key[1], key, state["requested"], max_pages, "nextLink")
            if time.monotonic() - state["started"] > deadline:
                raise PagingError(f"{key[1]}: not done after {deadline:g} s; read stopped")
        else:
            state.update(started=time.monotonic(), requested=set())
        state["next"] = None
        state["requested"].add(key)

    def on_response(
        self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]
    ) -> None:
        # Whatever the content type, as `json_pages` reads it; streams and bad JSON have none.
        try:
            text = response.http_response.text()
            link = json.loads(text).get("nextLink") if text.lstrip().startswith("{") else None
        except Exception:
            return
        if not link or not isinstance(link, str):
            return
        key = _page_key(link)
        state = self._local.__dict__
        # The page count is checked when the page is asked for: a reader may stop before it.
        check_next_page(key[1], key, state.get("requested", ()), None, "nextLink")
        state["next"] = key


def client_options(*allowed_urls: str, budget: ReadBudget | None = None) -> dict[str, Any]:
    """Keyword arguments for any SDK client, fresh lists: azure-mgmt-core appends its own policy."""
    guard = EndpointGuardPolicy(*allowed_urls)
    paced = [ReadBudgetPolicy(budget)] if budget is not None else []
    return {
        "per_call_policies": [guard, PagingPolicy()],
        "per_retry_policies": [guard, *paced, RetryAfterCapPolicy()],
        "retry_total": RETRY_TOTAL,
        "retry_backoff_factor": 0.8,
        "retry_backoff_max": 5,
        # One request, its retries and their waits included (azure-core's RetryPolicy `timeout`).
        "timeout": 45,
        "connection_timeout": 10,
        "read_timeout": 30,
        # Same-origin redirects are followed, a few at most; other origins the guard refuses.
        "redirect_max": 3,
    }


def pinned_pipeline(
    base_url: str, credential: TokenCredential, scope: str, *, budget: ReadBudget | None = None
) -> PipelineClient[HttpRequest, HttpResponse]:
    """A raw `PipelineClient` whose token for `scope` only ever travels to `base_url`'s origin."""
    from azure.core import PipelineClient
    from azure.core.pipeline import policies

    options = client_options(base_url, budget=budget)
    return PipelineClient(
        base_url=base_url,
        # `per_retry_policies` go right after the RetryPolicy: the token after the guard's check.
        policies=[
            policies.RequestIdPolicy(),
            policies.HeadersPolicy(),
            policies.UserAgentPolicy(sdk_moniker="synapse-aml-automation"),
            policies.ContentDecodePolicy(),
            policies.RedirectPolicy(**options),
            policies.RetryPolicy(**options),
            policies.BearerTokenCredentialPolicy(credential, scope),
            policies.SensitiveHeaderCleanupPolicy(),
            policies.HttpLoggingPolicy(),
            policies.DistributedTracingPolicy(),
        ],
        **options,
    )


# What SDK deserializers raise on a body of the wrong shape (DecodeError is an HttpResponseError).
# IndexError: azure-monitor-query reads a row wider than its columns by index. RecursionError:
# JSON nested deeper than the parser goes.
_SHAPE_ERRORS = (
    DeserializationError,
    ValueError,
    TypeError,
    AttributeError,
    LookupError,
    RecursionError,
)

P = ParamSpec("P")
R = TypeVar("R")


def malformed_is_permanent(method: Callable[P, R]) -> Callable[P, R]:
    """An adapter method's shape errors become `MalformedResponseError`: permanent, recorded."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (AzureError, JudgedAnswerError):
            # Azure's own errors, and answers the app refused on purpose, keep their meaning.
            raise
        except _SHAPE_ERRORS as error:
            what = f"{method.__qualname__}: malformed response: {type(error).__name__}: {error}"
            raise MalformedResponseError(excerpt(what, 500)) from error

    return wrapper


def json_object(response: HttpResponse, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        text = (
            f"{what}: answered {response.status_code} with a body that is not JSON "
            f"({response.headers.get('content-type', 'no content type')}): {error}"
        )
        raise MalformedResponseError(excerpt(text, 500)) from None
    if not isinstance(body, dict):
        raise MalformedResponseError(
            f"{what}: answered {response.status_code} with a JSON {type(body).__name__}, "
            "not an object"
        )
    return body


def raise_for_status(response: HttpResponse) -> NoReturn:
    """Raise azure-core's error for a failed response as generated SDKs do (ARM's error body)."""
    from azure.mgmt.core.exceptions import ARMErrorFormat

    errors = {401: ClientAuthenticationError, 404: ResourceNotFoundError, 409: ResourceExistsError}
    map_error(response.status_code, response, errors)
    raise HttpResponseError(response=response, error_format=ARMErrorFormat)


def json_pages(
    client: PipelineClient[HttpRequest, HttpResponse],
    url: str,
    params: dict[str, str] | None,
    *,
    what: str,
    max_pages: int = MAX_PAGES,
    deadline_seconds: float = READ_DEADLINE_SECONDS,
) -> Iterator[dict[str, Any]]:
    """The items of a raw JSON list, page by page: consume it whole before trusting any item."""
    from azure.core.rest import HttpRequest

    while True:
        try:
            response = client.send_request(
                HttpRequest("GET", url, params=params),
                paging_max_pages=max_pages,
                paging_deadline_seconds=deadline_seconds,
            )
        except DecodeError as error:
            # azure-core's ContentDecodePolicy already refused a body labelled JSON.
            text = f"{what}: body is not JSON: {error.message}"
            raise MalformedResponseError(excerpt(text, 500)) from None
        if response.status_code != 200:
            raise HttpResponseError(response=response)
        body = json_object(response, what)
        value = body.get("value")
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            shown = type(value).__name__
            raise MalformedResponseError(f"{what}: 'value' is a {shown}, not a list of objects")
        yield from value
        link = body.get("nextLink")
        if link in (None, ""):
            return
        if not isinstance(link, str):
            raise MalformedResponseError(f"{what}: 'nextLink' is a {type(link).__name__}")
        # Paths per workspace share an origin: on it, another path is another's list (another
        # origin is the guard's to refuse).
        (origin, path, _), (asked_origin, asked_path, _) = _page_key(link), _page_key(url)
        if origin == asked_origin and path != asked_path:
            raise PagingError(f"{what}: nextLink leaves {urlsplit(url).path}; read stopped")
        # nextLink already carries the query string, api-version included.
        url, params = link, None


def json_mapping(value: object, what: str) -> dict[str, Any]:
    """A JSON object from a raw body or an SDK model's free-form field (None: empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedResponseError(f"{what}: a {type(value).__name__}, not an object")
    return value


def json_objects(value: object, what: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise MalformedResponseError(f"{what}: a {type(value).__name__}, not a list of objects")
    return value


def resource_properties(
    clients: AzureClients, resource_id: str, api_version: str
) -> dict[str, Any]:
    """The `properties` of a resource read through the generic resources API (no SDK of its
    own to import); `UnexpectedAnswerError` when ARM answers about another resource."""
    resource = clients.resources(subscription_of(resource_id)).resources.get_by_id(
        resource_id, api_version=api_version
    )
    # The shape first: a body that is no resource at all is malformed, not another's answer.
    properties = json_mapping(resource.properties, f"{resource_id}: properties")
    check_named(resource.id, resource_id, f"asked for {resource_id}")
    return properties


class ArmAdapter:
    """The adapters' base: their clients, the app's identity, a workspace's Azure ML client,
    and raw requests for ARM's JSON on `arm_pipeline()` (for the adapters that skip the SDK).
    Every public method an adapter defines is `malformed_is_permanent`."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, member in list(vars(cls).items()):
            if inspect.isfunction(member) and not name.startswith("_"):
                setattr(cls, name, malformed_is_permanent(member))

    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    def app_identity(self) -> AppIdentity:
        return self._clients.app_identity()

    def _ml(self, workspace_id: str) -> tuple[Any, str, str]:
        client = self._clients.machine_learning(subscription_of(workspace_id))
        return client, resource_group_of(workspace_id), name_of(workspace_id)

    @malformed_is_permanent
    def workspace(self, workspace_id: str) -> Any:
        """The AML workspace; `UnexpectedAnswerError` when ARM answers for another."""
        ml, group, name = self._ml(workspace_id)
        model = ml.workspaces.get(group, name)
        check_named(getattr(model, "id", None), workspace_id, f"asked for {workspace_id}")
        return model

    def _arm(
        self,
        method: str,
        path: str,
        api_version: str | None,
        *,
        body: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> HttpResponse:
        from azure.core.rest import HttpRequest

        client = self._clients.arm_pipeline()
        # The metric service takes no api-version (azure-ai-ml's run history client sends none).
        params = {"api-version": api_version} if api_version else None
        request = HttpRequest(method, client.format_url(path), params=params, json=body)
        # PUTs and DELETEs of ARM resources are idempotent: retried like GETs.
        response = client.send_request(request, retry_on_methods=[method])
        if response.status_code not in ok:
            raise_for_status(response)
        return response

    def _json(
        self, method: str, path: str, api_version: str | None, what: str, **options: Any
    ) -> dict[str, Any]:
        """`_found`, where a 404 is refused as any status outside `ok` is."""
        return self._found(method, path, api_version, what, **{"ok": (200,), **options}) or {}

    def _found(
        self, method: str, path: str, api: str | None, what: str, about: str = "", **options: Any
    ) -> dict[str, Any] | None:
        """Azure's JSON answer, or None for a 404; one about another ID than `about`: refused."""
        response = self._arm(method, path, api, **{"ok": (200, 404), **options})
        body = json_object(response, what) if response.status_code != 404 else None
        if about and body is not None:
            check_named(body.get("id"), about, f"asked for {what}")
        return body

    def _list(
        self, path: str, api_version: str, what: str, pages: int = MAX_PAGES
    ) -> Iterator[dict[str, Any]]:
        client, query = self._clients.arm_pipeline(), {"api-version": api_version}
        return json_pages(client, client.format_url(path), query, what=what, max_pages=pages)
