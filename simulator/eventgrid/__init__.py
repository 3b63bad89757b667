"""Event Grid in the simulator: a custom topic (``POST /eventgrid-topic/api/events``, route
``eventgrid.publish``) that checks and keeps the Event Grid schema events azure-eventgrid's
``EventGridPublisherClient`` sends, as the app's outcome events are published in Azure.
"""

from __future__ import annotations

from .models import TOPIC_PATH, CustomTopic

__all__ = ["TOPIC_PATH", "CustomTopic"]
