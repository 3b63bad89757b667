"""Event Grid in the simulator: a custom topic (``eventgrid.publish``) that checks and keeps the
events azure-eventgrid's ``EventGridPublisherClient`` sends."""

from .models import TOPIC_PATH, CustomTopic

__all__ = ["TOPIC_PATH", "CustomTopic"]
