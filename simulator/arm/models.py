"""The ARM resource store every ARM service of the simulator keeps its resources in, and its
catch-all GET. A resource is stored under its lower-cased ID (ARM IDs ignore case) and keeps the
body and casing it was stored with; children live under their parent's ID, so a parent's delete
takes them too, as in ARM.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable

from ..server import Call, Reply, Route, route
from ..shapes import JSON
from .exceptions import not_found

#: Name of the catch-all GET; the server keeps it last (the first match wins).
GENERIC_GET = "arm.generic.get"

#: What a service does when a resource of its own is deleted (Synapse forgets the workspace's
#: managed private endpoints, which live on its data plane rather than in this store).
DeleteHook = Callable[[str, JSON], None]


def key(resource_id: str) -> str:
    """The store's key of an ARM ID (they ignore case): one leading slash, lower case."""
    return "/" + resource_id.strip("/").lower()


class ResourceStore:
    """ARM resources by ID (the ``arm`` service): what GETs answer, what the rules change."""

    def __init__(self, lock: threading.RLock) -> None:
        self.lock = lock
        #: Stored bodies by :func:`key`; handlers (which hold the lock) read and change them.
        self.resources: dict[str, JSON] = {}
        self._delete_hooks: list[DeleteHook] = []

    def on_delete(self, hook: DeleteHook) -> None:
        """Call ``hook(resource_id, stored_body)`` after a resource is deleted."""
        self._delete_hooks.append(hook)

    def put(self, resource_id: str, body: JSON) -> JSON:
        """Store any resource under ``resource_id`` (its ``id`` when it has none); return a copy."""
        stored = copy.deepcopy(body)
        stored.setdefault("id", resource_id)
        with self.lock:
            self.resources[key(resource_id)] = stored
            return copy.deepcopy(stored)

    def delete(self, resource_id: str) -> None:
        """Forget a stored resource and its children; its name is then free to be taken."""
        resource_key = key(resource_id)
        with self.lock:
            stored = self.resources.pop(resource_key, None)
            for child in [k for k in self.resources if k.startswith(resource_key + "/")]:
                del self.resources[child]
            if stored is not None:
                for hook in self._delete_hooks:
                    hook(resource_id, stored)

    def get(self, resource_id: str) -> JSON | None:
        """A copy of the stored resource, or None."""
        with self.lock:
            return copy.deepcopy(self.resources.get(key(resource_id)))

    def stored(self, resource_id: str) -> JSON | None:
        """The stored body itself (not a copy), for rules that change it; hold the lock."""
        return self.resources.get(key(resource_id))

    def exists(self, resource_id: str) -> bool:
        with self.lock:
            return key(resource_id) in self.resources

    def require(self, resource_id: str) -> None:
        """Raise KeyError unless the resource is stored (seeding a child needs its parent)."""
        if not self.exists(resource_id):
            raise KeyError(f"seed {resource_id} first")

    def children(self, parent_id: str, collection: str) -> list[JSON]:
        """Copies of the direct children of ``parent_id`` in ``collection`` (lower case)."""
        prefix = f"{key(parent_id)}/{collection}/"
        with self.lock:
            return [
                copy.deepcopy(body)
                for stored_key, body in self.resources.items()
                if stored_key.startswith(prefix) and "/" not in stored_key[len(prefix) :]
            ]

    def reset(self) -> None:
        with self.lock:
            self.resources.clear()

    def routes(self) -> list[Route]:
        return [route("GET", r"^/(?:subscriptions|providers)/.+$", GENERIC_GET, self.serve)]

    def serve(self, call: Call) -> Reply:
        found = self.stored(call.path)
        if found is None:
            return not_found(call.path)
        return Reply(200, copy.deepcopy(found))
