"""The local Azure: the simulator and Azurite on 127.0.0.1, and the demo scene's settings that
point the app at them. The one harness of the tests, the bench, the offline run and the sandbox.

    with local_azure() as local:
        scene.seed(local.sim)
        os.environ.update(local.settings())
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from simulator import AzureSimulator, Azurite
from tools import scene


@dataclass(frozen=True)
class LocalAzure:
    """A running simulator (a thread) and Azurite (a child process)."""

    sim: AzureSimulator
    azurite: Azurite

    @property
    def azurite_netloc(self) -> str:
        """``host:port`` of Azurite's Table service."""
        return urlsplit(self.azurite.table_endpoint).netloc

    def settings(self, *, table_prefix: str | None = None, **overrides: str) -> dict[str, str]:
        """The scene's app settings (``tools.scene.settings_env``) for this local Azure, then
        ``overrides``; with ``table_prefix``, a ledger table of the caller's own (a fresh name)."""
        settings = scene.settings_env(self.sim, self.azurite.connection_string)
        if table_prefix is not None:
            settings["LEDGER_TABLE_NAME"] = f"{table_prefix}{uuid.uuid4().hex[:16]}"
        return {**settings, **overrides}


@contextmanager
def local_azure() -> Iterator[LocalAzure]:
    """Azurite and the simulator on 127.0.0.1, stopped on exit (Azurite by its PID)."""
    with Azurite() as azurite, AzureSimulator() as sim:
        yield LocalAzure(sim, azurite)
