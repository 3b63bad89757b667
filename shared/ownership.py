"""Who started a thing: only what Azure records about its creator, set from the caller's token
(a name, tag or description is whoever may write the thing's: never proof). ARM
resources and ML jobs: `systemData.createdBy(Type)`; role assignments: `createdBy`, `updatedBy`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.bounds import excerpt


@dataclass(frozen=True)
class AppIdentity:
    """The identity the app calls Azure with, as Entra ID wrote it into the app's own token."""

    object_id: str
    # How ARM's `systemData` names this identity as a creator: its types and names.
    creator_types: frozenset[str]
    creator_names: frozenset[str]

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> AppIdentity:
        """From the app's own token (on a laptop, `az login`'s: "the app" is the signed-in user)."""

        def text(name: str) -> str:
            return value.lower() if isinstance(value := claims.get(name), str) else ""

        if not (object_id := text("oid")):
            raise ValueError("the app's access token has no object ID (oid)")
        if "scp" in claims or text("idtyp") == "user":  # a delegated (user) token
            names = {object_id, text("upn"), text("unique_name"), text("email")}
            types = frozenset({"user"})
        else:
            names = {object_id, text("appid") or text("azp")}
            types = frozenset({"application", "managedidentity"})
        return cls(object_id, types, frozenset(names - {""}))

    def created(self, system_data: Any) -> bool:
        """Whether ARM's `systemData` (as returned) says this identity created the resource."""
        known = system_data if isinstance(system_data, Mapping) else {}
        by, by_type = known.get("createdBy"), known.get("createdByType")
        if not isinstance(by, str) or not isinstance(by_type, str):
            return False
        # ASCII only, as ARM compares: str.lower() folds the Kelvin sign onto k.
        ours = by.isascii() and by_type.isascii()
        return ours and by_type.lower() in self.creator_types and by.lower() in self.creator_names

    def is_principal(self, object_id: str | None) -> bool:
        """Whether `object_id` (a role assignment's `createdBy`, `updatedBy`) is this identity."""
        return bool(object_id) and str(object_id).lower() == self.object_id


def not_made_by(app: AppIdentity, system_data: Any) -> str | None:
    """None when `app` created the resource, else a refusal's reason naming its creator."""
    if app.created(system_data):
        return None
    known = system_data if isinstance(system_data, Mapping) else {}
    who = excerpt(known.get("createdBy") or "unknown", 100)
    kind = excerpt(known.get("createdByType") or "unknown type", 40)
    return f"Azure records {who} ({kind}) as its creator, not this app"
