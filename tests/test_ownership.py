"""Who started a thing: only Azure's record of its creator, compared with the identity in the
app's own token (`shared.ownership`); the app derives that identity from the token its
credential obtains."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.bounds import redacted
from shared.ownership import AppIdentity, not_made_by
from tests.conftest import App
from tests.credentials import leaked, placed

OBJECT_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
CLIENT_ID = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
APP = AppIdentity.from_claims({"oid": OBJECT_ID, "appid": CLIENT_ID, "idtyp": "app"})
USER = AppIdentity.from_claims({"oid": OBJECT_ID, "upn": "Ops@Contoso.com", "scp": "user"})


def _system_data(by: str, by_type: str) -> dict[str, str]:
    return {"createdBy": by, "createdByType": by_type, "createdAt": "2026-11-25T00:00:00Z"}


@pytest.mark.parametrize("by", [CLIENT_ID, CLIENT_ID.upper(), OBJECT_ID])
@pytest.mark.parametrize("by_type", ["Application", "ManagedIdentity"])
def test_the_app_created_what_arm_records_as_made_by_its_identity(by: str, by_type: str) -> None:
    assert APP.created(_system_data(by, by_type))


@given(
    by=st.one_of(st.uuids().map(str), st.text(max_size=60), st.just(CLIENT_ID)),
    by_type=st.one_of(st.sampled_from(["User", "Key", "", "Application"]), st.text(max_size=20)),
)
def test_nothing_else_is_the_apps(by: str, by_type: str) -> None:
    ours = by.lower() in (CLIENT_ID, OBJECT_ID) and by_type.lower() in (
        "application",
        "managedidentity",
    )
    assert APP.created(_system_data(by, by_type)) is ours
    assert not APP.created(None)
    assert not APP.created({"createdBy": CLIENT_ID})


def test_on_a_laptop_the_app_is_the_signed_in_user() -> None:
    assert USER.created(_system_data("ops@contoso.com", "User"))
    assert not USER.created(_system_data("ops@contoso.com", "Application"))
    assert not USER.created(_system_data(CLIENT_ID, "Application"))


def test_a_creator_whose_name_only_folds_to_the_signed_in_users_is_someone_else() -> None:
    # ARM's names compare case-insensitively in ASCII: str.lower() folds the Kelvin sign onto k.
    kate = AppIdentity.from_claims({"oid": OBJECT_ID, "upn": "Kate@Contoso.com", "scp": "user"})
    assert kate.created(_system_data("kate@contoso.com", "User"))
    assert not kate.created(_system_data("\u212aate@contoso.com", "User"))
    assert not kate.created(_system_data("kate@contoso.com", "Us\u0435r"))  # a Cyrillic e


def test_a_role_assignment_is_the_apps_by_its_object_id_only() -> None:
    assert APP.is_principal(OBJECT_ID.upper())
    assert not APP.is_principal(CLIENT_ID)
    assert not APP.is_principal("")
    assert not APP.is_principal(None)


def test_a_token_without_an_object_id_proves_nothing() -> None:
    with pytest.raises(ValueError, match="object ID"):
        AppIdentity.from_claims({"appid": str(uuid.uuid4())})


def test_the_app_reads_its_identity_from_its_own_token(app: App) -> None:
    from shared.adapters.clients import clients_for
    from shared.config import get_settings

    identity = clients_for(get_settings()).app_identity()

    assert identity.object_id == app.sim.identity.principal_id
    assert identity.created(_system_data(app.sim.identity.client_id, "Application"))


@given(st.data(), st.sampled_from([("createdBy", 100), ("createdByType", 40)]))
def test_a_creator_named_in_a_refusal_shows_no_piece_of_a_credential(
    data: st.DataObject, field: tuple[str, int]
) -> None:
    # ARM's `systemData` is repeated cut (100 and 40 characters) in the refusal's reason.
    name, cut = field
    text, secret = data.draw(placed(cut, before=8))
    reason = not_made_by(APP, {**_system_data("someone", "User"), name: text})
    assert reason is not None
    # Every sink (ledger, log) redacts what it is given: what the cut let through is what shows.
    assert leaked(secret, redacted(reason)) is None, reason
