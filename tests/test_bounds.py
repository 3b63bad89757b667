"""What outside input can make the app store: keys that never collide, values that always fit."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.bounds import (
    MAX_KEY_CHARS,
    PROPERTY_LIMIT,
    bounded,
    bounded_entity,
    redacted,
    table_key,
    utf16_units,
)

# Azure Table keys: at most 1 KiB (512 UTF-16 units), none of / \ # ? or control characters.
_FORBIDDEN_IN_KEYS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
# Every text a sender can put in an event ID: any code point, lone surrogates included (JSON
# allows "\ud800", UTF-8 does not).
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)


def _unescape(key: str) -> str:
    """The inverse of table_key's escaping (for keys that were not hashed)."""
    out = bytearray()
    index = 0
    while index < len(key):
        char = key[index]
        if char == "~":
            out.append(int(key[index + 1 : index + 3], 16))
            index += 3
            continue
        out += b"/" if char == ":" else char.encode()
        index += 1
    return out.decode("utf-8", "surrogatepass")


@given(any_text)
def test_a_table_key_is_always_valid_for_azure_tables(value: str) -> None:
    key = table_key(value)

    assert key
    assert not _FORBIDDEN_IN_KEYS.search(key)
    assert key.isascii()
    assert utf16_units("actions:" + key) * 2 <= 1024


@given(any_text, any_text)
def test_different_values_never_share_a_table_key(first: str, second: str) -> None:
    if first != second:
        assert table_key(first) != table_key(second)


@given(any_text)
def test_a_short_table_key_reads_back_as_its_value(value: str) -> None:
    key = table_key(value)
    if key.startswith(("~h", "~e")):
        assert len(key) == 66 or value == ""
    else:
        assert _unescape(key) == value


def test_lookalike_event_ids_get_rows_of_their_own() -> None:
    ids = ["evt/1", "evt:1", "evt#1", "evt?1", "evt\\1", "evt\n1", "evt1", "evt~3A1", ""]
    assert len({table_key(value) for value in ids}) == len(ids)


def test_usual_ids_keep_readable_keys() -> None:
    assert (
        table_key("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d") == "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    )
    assert (
        table_key("subscriptions/sub/resourcegroups/rg-ml")
        == "subscriptions:sub:resourcegroups:rg-ml"
    )


def test_a_600_emoji_event_id_gets_a_short_hashed_key() -> None:
    key = table_key("🙂" * 600)

    assert key.startswith("~h")
    assert len(key) <= MAX_KEY_CHARS
    assert key != table_key("🙂" * 601)


@given(any_text, st.integers(min_value=60, max_value=400))
def test_a_bounded_value_fits_its_limit_and_is_valid_utf8(value: str, limit: int) -> None:
    result = bounded(value, limit)

    assert utf16_units(result) <= limit
    result.encode("utf-8")  # no lone surrogate left
    if utf16_units(value) <= limit and value.isascii() and redacted(value) == value:
        assert result == value


_USER_INFO = string.ascii_letters + string.digits + "-._~%!$&'()*+,;=:"


@given(
    scheme=st.sampled_from(["https", "http", "HTTPS", "wss", "git+ssh"]),
    secret=st.text(alphabet=_USER_INFO, max_size=40),
    host=st.sampled_from(["fraud.eastus.inference.ml.azure.com", "127.0.0.1:8443", "[::1]"]),
    rest=st.sampled_from(["", "/score", "/a@b", "?sig=x", "#f", " and more text"]),
    before=st.sampled_from(["", "scoring URI '", "refused a request to "]),
)
def test_a_urls_user_info_is_never_stored(
    scheme: str, secret: str, host: str, rest: str, before: str
) -> None:
    value = f"{before}{scheme}://user-{secret}@{host}{rest}"
    result = bounded(value)

    assert f"user-{secret}" not in result
    assert f"{scheme}://REDACTED@{host}" in result


@pytest.mark.parametrize(
    "url", ["https://h.example/a@b", "https://h.example/?to=a@b", "mailto:a@b.example", "a@b"]
)
def test_an_at_sign_outside_a_urls_authority_is_kept(url: str) -> None:
    assert redacted(url) == url


def test_a_70000_character_subject_is_cut_with_a_note() -> None:
    result = bounded("/subscriptions/" + "a" * 70_000)

    assert utf16_units(result) <= PROPERTY_LIMIT
    assert result.startswith("/subscriptions/aaa")
    assert result.endswith("characters cut]")


def test_an_entity_has_every_string_bounded_and_other_values_kept() -> None:
    entity = {"PartitionKey": "events", "Subject": "x" * 100_000, "Count": 3}

    result = bounded_entity(entity)

    assert result["PartitionKey"] == "events"
    assert result["Count"] == 3
    assert utf16_units(result["Subject"]) <= PROPERTY_LIMIT


# Secrets as they come: base64 keys, JWTs, passwords with white space and odd characters.
_SECRET = st.text(alphabet=string.ascii_letters + string.digits + "+/", min_size=12, max_size=40)
_SPACED = st.text(alphabet=string.ascii_letters + string.digits + " \t\n!$'()*+,;=:%", max_size=30)


@given(
    secret=_SPACED,
    scheme=st.sampled_from(["https", "http"]),
    shown=st.sampled_from(["{}", "{!r}"]),  # as a message or a settings error repeats it
)
def test_user_info_with_white_space_is_never_repeated(secret: str, scheme: str, shown: str) -> None:
    value = shown.format(f"{scheme}://admin:pw-{secret}-end@h.example/p")

    result = redacted(value)

    assert "pw-" not in result
    assert "-end" not in result
    assert "@h.example/p" in result


@given(
    secret=_SECRET,
    template=st.sampled_from(
        [
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={}==;EndpointSuffix=x",
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey={}=",
            "failed with accountkey={} and more",
            "Authorization: Bearer {}",
            "'authorization': 'Bearer {}'",
            '{{"Authorization": "SharedKey acct:{}"}}',
            "x-azureml-token: {}",
            "https://contoso.webhook.office.com/webhookb2/{}@t/IncomingWebhook/{}/o",
            "https://hooks.slack.com/services/T0/B0/{}",
            "https://prod-1.eastus.logic.azure.com/workflows/w/triggers/manual/paths/invoke"
            "?api-version=2016-10-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={}",
        ]
    ),
)
def test_no_credential_is_ever_repeated(secret: str, template: str) -> None:
    result = bounded(template.format(secret, secret))

    assert secret not in result
    assert "REDACTED" in result


@given(
    secret=st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=12),
    before=st.sampled_from([" ", "?access_token=", "/", "'", ": "]),
)
def test_a_jwt_is_never_repeated(secret: str, before: str) -> None:
    result = redacted(f"token{before}eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ{secret}.{secret} expired")

    assert secret not in result
    assert result == f"token{before}REDACTED expired"


@pytest.mark.parametrize(
    "text",
    [
        "refused a bearer token for https://ml.azure.com",
        "the Authorization header is missing",
        "AccountName=acct;TableEndpoint=https://acct.table.core.windows.net/",
        "https://contoso.webhook.office.com",
    ],
)
def test_text_about_credentials_without_one_is_kept(text: str) -> None:
    assert redacted(text) == text


@given(
    secret=st.text(alphabet=string.ascii_letters, min_size=8),
    before=st.sampled_from(["evt-", "", "a/b:"]),
)
def test_a_table_key_never_holds_a_credential(secret: str, before: str) -> None:
    for value in (f"{before}https://u:{secret}@h/x", f"{before}?sv=1&sig={secret}"):
        key = table_key(value)

        assert secret not in (key if key.startswith("~h") else _unescape(key))
        assert key == table_key(value)  # the same row for the same ID
