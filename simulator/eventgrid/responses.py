"""HTTP in, model calls, HTTP out for publishing to the custom topic.

Handlers run with the simulator's lock held.
"""

from __future__ import annotations

from ..server import Call, Reply
from .exceptions import invalid_events, too_large
from .models import MAX_REQUEST_BYTES, CustomTopic


class EventGridResponses:
    """Handlers over the custom topic."""

    def __init__(self, topic: CustomTopic) -> None:
        self._topic = topic

    def publish(self, call: Call) -> Reply:
        """``POST /api/events``: every event valid, or none is kept."""
        length = call.headers.get("content-length", "0")
        if length.isdigit() and int(length) > MAX_REQUEST_BYTES:
            return too_large(length)
        events = call.body
        if not isinstance(events, list) or not events:
            return invalid_events("The request body must be a non-empty JSON array.")
        for index, event in enumerate(events):
            problem = self._topic.event_problem(event)
            if problem:
                return invalid_events(f"Event {index}: {problem}")
        self._topic.accept(events)
        return Reply(200)
