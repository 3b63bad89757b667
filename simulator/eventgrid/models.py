"""One custom topic (``sim.eventgrid``) that keeps what is published, with Event Grid's rules:
a request is a non-empty JSON array of at most 1 MB; every event has ``id``, ``subject``,
``eventType`` and an ISO 8601 ``eventTime``; ``topic`` is the topic's own ID; ``metadataVersion``
is "1"."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from ..server import Call, Reply, Route, route
from ..shapes import JSON
from .exceptions import invalid_events, too_large

if TYPE_CHECKING:
    from ..server import SimulatorServer

#: Path of the simulated custom topic, ``/api/events`` included as in Azure.
TOPIC_PATH: Final = "/eventgrid-topic/api/events"

# The properties Event Grid requires on every event (it stamps an empty ``dataVersion``).
EVENT_REQUIRED: Final = ("id", "subject", "eventType", "eventTime")
MAX_REQUEST_BYTES: Final = 1024 * 1024


class CustomTopic:
    def __init__(self, sim: SimulatorServer) -> None:
        self.sim = sim
        self._lock = sim.lock
        #: An event that names a ``topic`` must name exactly this one, as Event Grid demands.
        self.topic_id = (
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-simulator"
            "/providers/Microsoft.EventGrid/topics/eventgrid-topic"
        )
        self._published: list[JSON] = []

    def routes(self) -> list[Route]:
        return [route("POST", rf"^{TOPIC_PATH}$", "eventgrid.publish", self.publish, "eventgrid")]

    @property
    def endpoint(self) -> str:
        """The topic endpoint (``OUTCOME_TOPIC_ENDPOINT``) with ``/api/events``, as in Azure
        (``EventGridPublisherClient`` appends nothing); not in ``sim.env()``: tests opt in."""
        return f"{self.sim.url}{TOPIC_PATH}"

    @property
    def published_events(self) -> list[JSON]:
        """Events accepted, in order, as they were sent (copies)."""
        with self._lock:
            return copy.deepcopy(self._published)

    def publish(self, call: Call) -> Reply:
        """``POST /api/events``: every event valid, or none is kept."""
        length = call.headers.get("content-length", "0")
        if length.isdigit() and int(length) > MAX_REQUEST_BYTES:
            return too_large(length)
        events = call.body
        if not isinstance(events, list) or not events:
            return invalid_events("The request body must be a non-empty JSON array.")
        for index, event in enumerate(events):
            if problem := self.event_problem(event):
                return invalid_events(f"Event {index}: {problem}")
        with self._lock:
            self._published.extend(copy.deepcopy(events))
        return Reply(200)

    def reset(self) -> None:
        with self._lock:
            self._published.clear()

    def event_problem(self, event: Any) -> str | None:
        """What makes ``event`` invalid for Event Grid, or None."""
        if not isinstance(event, dict):
            return "an event must be a JSON object."
        for key in EVENT_REQUIRED:
            if not isinstance(event.get(key), str) or not event[key]:
                return f"Required property '{key}' was not set."
        try:
            datetime.fromisoformat(event["eventTime"])
        except ValueError:
            return f"eventTime '{event['eventTime']}' is not a valid ISO 8601 time."
        for key in ("dataVersion", "topic", "metadataVersion"):
            if key in event and event[key] is not None and not isinstance(event[key], str):
                return f"Property '{key}' must be a string."
        topic = event.get("topic")
        if topic is not None and topic.lower() != self.topic_id.lower():
            return (
                f"topic '{topic}' does not match the topic's resource id "
                f"'{self.topic_id}'; leave it out and Event Grid stamps it."
            )
        metadata_version = event.get("metadataVersion")
        if metadata_version is not None and metadata_version != "1":
            return f"metadataVersion '{metadata_version}' is not supported; only '1' is."
        return None
