"""The custom topic's route; it takes a token for ``https://eventgrid.azure.net``."""

from __future__ import annotations

import re
from typing import Final

from ..server import Route
from .responses import EventGridResponses

#: Path of the simulated custom topic, ``/api/events`` included as in Azure.
TOPIC_PATH: Final = "/eventgrid-topic/api/events"


def routes(responses: EventGridResponses) -> list[Route]:
    """The route table."""
    return [
        Route(
            "POST",
            re.compile(rf"^{re.escape(TOPIC_PATH)}$"),
            "eventgrid.publish",
            responses.publish,
            "eventgrid",
        )
    ]
