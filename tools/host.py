"""Invoking the registered functions the way the Functions host does, without the host.

The host indexes `function_app.app`, turns the trigger payload into the binding's Python type
(`func.EventGridEvent`, `func.TimerRequest`, `func.HttpRequest`) and calls the user function.
The operator CLI's `replay`, the offline run and the tests all go through here, so they exercise
the same index, the same binding metadata and the same code as Azure does.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.queue import QueueMessageInConverter
from azure.functions.timer import TimerRequestConverter


def indexed() -> dict[str, Any]:
    """Every registered function by name, indexed once per process like the host does."""
    return dict(_functions())


_indexing = threading.Lock()


def _functions() -> dict[str, Any]:
    # The host indexes the app once; azure-functions refuses a second get_functions() call, and
    # `functools.cache` alone lets two threads' first calls (racing instances) both index.
    with _indexing:
        return _index()


@functools.cache
def _index() -> dict[str, Any]:
    import function_app

    # azure-functions warns, through the root logger, that an app without HTTP functions has no
    # use for an auth level: noise on every replay, about nothing the operator can change.
    quiet = _DropMessage("Auth level is not applied to non http function app")
    logging.getLogger().addFilter(quiet)
    try:
        functions = function_app.app.get_functions()
    finally:
        logging.getLogger().removeFilter(quiet)
    return {str(fn.get_function_name()): fn for fn in functions}


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self._prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self._prefix)


def function(name: str) -> Any:
    """The indexed function `name` (an `azure.functions.decorators.core.Function`)."""
    found = _functions()
    if name not in found:
        raise KeyError(f"no function named {name!r}; the app registers {sorted(found)}")
    return found[name]


def trigger_type(name: str) -> str:
    return str(function(name).get_trigger().get_binding_name())


def to_event(payload: Mapping[str, Any]) -> func.EventGridEvent | func.CloudEvent:
    """One event, decoded by the same converter the Python worker uses: a CloudEvents 1.0 one
    (`specversion`) becomes a `func.CloudEvent`, as in Azure."""
    datum = meta.Datum(json.dumps(payload), "json")
    return EventGridEventInConverter.decode(datum, trigger_metadata={})


def as_cloud_event(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`payload` (Event Grid schema) as a subscription with the CloudEvents 1.0 delivery schema
    sends it: the topic is `source`, eventType `type`, eventTime `time`."""
    names = {"id": "id", "topic": "source", "eventType": "type", "eventTime": "time"}
    names.update(subject="subject", data="data")
    return {
        "specversion": "1.0",
        **{new: payload[key] for key, new in names.items() if key in payload},
    }


def load_events(path: Path) -> list[dict[str, Any]]:
    """Events from a file: one event, or an array of them (dead-letter blobs hold arrays)."""
    content = json.loads(path.read_text(encoding="utf-8"))
    items = content if isinstance(content, list) else [content]
    if not all(isinstance(item, dict) for item in items):
        raise ValueError(f"{path}: expected an Event Grid event object or an array of them")
    return items


def deliver_event(name: str, payload: Mapping[str, Any]) -> None:
    """Deliver one event to an Event Grid-triggered function."""
    fn = function(name)
    if trigger_type(name) != "eventGridTrigger":
        raise ValueError(f"{name} is not triggered by Event Grid")
    fn.get_user_function()(to_event(payload))


def deliver_events(name: str, payloads: Iterable[Mapping[str, Any]]) -> None:
    for payload in payloads:
        deliver_event(name, payload)


class _Out(func.Out[Any]):
    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


def fire_timer(name: str, *, past_due: bool = False, outputs: dict[str, Any] | None = None) -> None:
    """Fire a timer-triggered function once; `outputs` gets what it set on its output bindings,
    by name (the host would write it: a list of strings to a queue is one message each)."""
    fn = function(name)
    if trigger_type(name) != "timerTrigger":
        raise ValueError(f"{name} is not triggered by a timer")
    datum = meta.Datum(json.dumps({"IsPastDue": past_due}), "json")
    bindings = {
        str(binding["name"]): _Out()
        for binding in (b.get_dict_repr() for b in fn.get_bindings())
        if str(binding["direction"]).lower().endswith("out")
    }
    fn.get_user_function()(TimerRequestConverter.decode(datum, trigger_metadata={}), **bindings)
    if outputs is not None:
        outputs.update({key: out.get() for key, out in bindings.items() if out.get() is not None})


def deliver_queue_message(name: str, body: bytes, *, dequeue_count: int = 1) -> None:
    """Deliver one queue message (its body as the host hands it over, decoded) to a
    queue-triggered function, as its `dequeue_count`th delivery."""
    fn = function(name)
    if trigger_type(name) != "queueTrigger":
        raise ValueError(f"{name} is not triggered by a queue")
    metadata = {
        "Id": meta.Datum(f"message-{hash(body) & 0xFFFFFF:06x}", "string"),
        "DequeueCount": meta.Datum(dequeue_count, "int"),
    }
    message = QueueMessageInConverter.decode(meta.Datum(body, "bytes"), trigger_metadata=metadata)
    fn.get_user_function()(message)


def call_http(
    name: str,
    *,
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    route_params: Mapping[str, str] | None = None,
) -> func.HttpResponse:
    """Call an HTTP-triggered function with a `func.HttpRequest`, as the worker builds it."""
    fn = function(name)
    if trigger_type(name) != "httpTrigger":
        raise ValueError(f"{name} is not triggered by HTTP")
    request = func.HttpRequest(
        method=method,
        url=url,
        headers=dict(headers or {}),
        params={},
        route_params=dict(route_params or {}),
        body=body,
    )
    response = fn.get_user_function()(request)
    if not isinstance(response, func.HttpResponse):
        raise TypeError(f"{name} returned {type(response).__name__}, not an HttpResponse")
    return response
