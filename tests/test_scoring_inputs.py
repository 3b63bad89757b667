"""Whose data a scoring or retraining job may read (`shared.scoring.inputs`): jobs read their input
with the app's identity, which must never read the host's storage. One pure check
(`input_not_allowed`) for HTTP requests, `SCORING_INPUT` and `RETRAIN_INPUTS`; SAS tokens refused
in settings and redacted from anything recorded or published. Input paths whose percent-encoding
hides a traversal, a query or a control character are refused, however often encoded."""

from __future__ import annotations

import base64
import json
import string
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.outcomes import event_data
from shared.arm import same_arm_id
from shared.bounds import bounded
from shared.config import SettingsError, load_settings
from shared.ledger import ActionRecord
from shared.outcome import Outcome, Status
from shared.scoring.inputs import (
    STORAGE_SUFFIXES,
    AllowedInputs,
    Location,
    allowed_prefix,
    input_not_allowed,
    input_path_problem,
)
from tests.conftest import App
from tools import host, scene
from tools import scoring_scene as ss

WORKSPACE = scene.PROD
SUBSCRIPTION, GROUP = WORKSPACE.split("/")[2], WORKSPACE.split("/")[4]
HOST_ACCOUNT = "stfuncapp01"
PREFIXES = (
    "https://mldata01.blob.core.windows.net/scoring/in/",
    "azureml://datastores/curated/paths/daily/",
    "https://govdata.blob.core.usgovcloudapi.net/shared/",
)
HOST_SETTINGS = {
    "AzureWebJobsStorage__credential": "managedidentity",
    "AzureWebJobsStorage__blobServiceUri": f"https://{HOST_ACCOUNT}.blob.core.windows.net",
}
ALLOWED = AllowedInputs(
    tuple(allowed_prefix(p, frozenset({HOST_ACCOUNT})) for p in PREFIXES),
    frozenset({HOST_ACCOUNT}),
)
SAS = "sv=2024-11-04&ss=b&sp=rl&se=2026-12-01T00:00:00Z&sig=c2VjcmV0LXNpZ25hdHVyZQ%3D%3D"
SECRET = "c2VjcmV0LXNpZ25hdHVyZQ"


def _long_form(workspace: str, store: str = "curated") -> str:
    parts = workspace.split("/")
    return (
        f"azureml://subscriptions/{parts[2]}/resourcegroups/{parts[4]}/workspaces/{parts[-1]}"
        f"/datastores/{store}/paths/daily/x.csv"
    )


# --- the pure check -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "https://mldata01.blob.core.windows.net/scoring/in/day-1.csv",
        "https://mldata01.dfs.core.windows.net/scoring/in/",
        "https://mldata01.blob.core.windows.net/scoring/%69n/x.csv",  # 'i' escaped: same blob
        "azureml://datastores/curated/paths/daily/2026/",
        "azureml://datastores/CURATED/paths/daily/x.csv",
        _long_form(WORKSPACE),
        "https://govdata.blob.core.usgovcloudapi.net/shared/a/b",
    ],
)
def test_inputs_under_a_prefix_pass(path: str) -> None:
    assert input_not_allowed(path, WORKSPACE, ALLOWED) is None


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("https://mldata01.blob.core.windows.net/scoring/inbox/x.csv", "prefix"),
        ("https://mldata01.blob.core.windows.net/scoring/%2569n/x.csv", "prefix"),
        ("https://mldata01.blob.core.windows.net/other/in/x.csv", "prefix"),
        ("https://mldata02.blob.core.windows.net/scoring/in/x.csv", "prefix"),
        ("https://mldata01.blob.core.chinacloudapi.cn/scoring/in/x.csv", "prefix"),
        ("azureml://datastores/workspaceblobstore/paths/daily/x.csv", "prefix"),
        ("azureml://datastores/curated/paths/weekly/x.csv", "prefix"),
        (_long_form(scene.DEV), "another workspace"),
        ("azureml:churn-input:3", "data asset"),
        (f"https://{HOST_ACCOUNT}.blob.core.windows.net/azure-webjobs-secrets/host.json", "host"),
        (f"https://{HOST_ACCOUNT}.dfs.core.windows.net/app-package/x.zip", "host"),
        (f"https://{HOST_ACCOUNT}.blob.core.chinacloudapi.cn/scoring/in/x", "host"),
        ("https://mldata01.blob.core.windows.net/scoring/in/x.csv?" + SAS, "query"),
        ("https://mldata01.blob.core.windows.net:443/scoring/in/x.csv", "forms"),
        ("https://x@mldata01.blob.core.windows.net/scoring/in/x.csv", "forms"),
        ("HTTPS://MLDATA01.blob.core.windows.net/scoring/in/x.csv", "forms"),
        ("https://mldata01.blob.core.windows.net/scoring/in/../../other/x", "'..'"),
        ("https://mldata01.blob.core.windows.net/scoring/in/%2e%2e/%2e%2e/other/x", "'..'"),
    ],
)
def test_inputs_outside_the_prefixes_are_refused_with_a_reason(path: str, why: str) -> None:
    reason = input_not_allowed(path, WORKSPACE, ALLOWED)
    assert reason is not None
    assert why in reason
    assert SECRET not in reason


def test_an_empty_list_admits_only_datastores_of_the_jobs_own_workspace() -> None:
    empty = AllowedInputs((), frozenset({HOST_ACCOUNT}))
    assert input_not_allowed("azureml://datastores/any/paths/x/", WORKSPACE, empty) is None
    assert input_not_allowed(_long_form(WORKSPACE, "any"), WORKSPACE, empty) is None
    assert "another workspace" in str(input_not_allowed(_long_form(scene.DEV), WORKSPACE, empty))
    assert "datastore path" in str(
        input_not_allowed("https://mldata01.blob.core.windows.net/scoring/in/x", WORKSPACE, empty)
    )
    assert "data asset" in str(input_not_allowed("azureml:churn-input:3", WORKSPACE, empty))


def test_a_prefix_is_normalised_and_the_host_account_is_never_one() -> None:
    hosts = frozenset({HOST_ACCOUNT})
    assert allowed_prefix("HTTPS://MLData01.Blob.Core.Windows.Net/scoring/in", hosts) == (
        allowed_prefix("https://mldata01.blob.core.windows.net/scoring/%69n/", hosts)
    )
    for bad in (
        f"https://{HOST_ACCOUNT}.blob.core.windows.net/",
        f"https://{HOST_ACCOUNT.upper()}.blob.core.windows.net/app-package/",
        "https://mldata01.blob.core.windows.net/scoring/?" + SAS,
        "https://mldata01.blob.core.windows.net:443/scoring/",
        "https://x@mldata01.blob.core.windows.net/scoring/",
        "https://mldata01.blob.core.windows.net.evil.example/scoring/",
        "https://mldata01.blob.core.windows.net/scoring/../other/",
        "AZUREML://datastores/curated/paths/daily/%2e%2e/",
        "wasbs://scoring@mldata01.blob.core.windows.net/",
        "/home/site/wwwroot/",
        "azureml://datastores/",
    ):
        with pytest.raises(ValueError):  # noqa: PT011 - each its own message
            allowed_prefix(bad, hosts)


# An independent reading of what storage (or Azure ML) would read: `urllib` for the URL, one
# percent-decoding of the path, and plain string comparison with the prefixes' decoded text.
def _storage_view(path: str) -> tuple[str, str, str] | None:
    parts = urlsplit(path)
    if parts.scheme != "https" or parts.username or parts.port or parts.query:
        return None
    return (parts.hostname or "").lower(), "https", unquote(parts.path)


def _datastore_view(path: str) -> tuple[str, str, str] | None:
    rest = path.removeprefix("azureml://")
    if rest == path or "?" in rest:
        return None
    if rest.startswith("subscriptions/"):
        parts = rest.split("/")
        named = (
            f"/subscriptions/{parts[1]}/resourceGroups/{parts[3]}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{parts[5]}"
        )
        if not same_arm_id(named, WORKSPACE):
            return None
        rest = "/".join(parts[6:])
    store, _, tail = rest.removeprefix("datastores/").partition("/")
    return store.lower(), "azureml", "/" + unquote(tail.removeprefix("paths/"))


def _is_under(path: str, prefix: str) -> bool:
    view = _storage_view(path) if path.startswith("https") else _datastore_view(path)
    wanted = _storage_view(prefix) if prefix.startswith("https") else _datastore_view(prefix)
    if view is None or wanted is None:
        return False
    (where, kind, text), (allowed_where, allowed_kind, allowed_text) = view, wanted
    if kind == "https":
        # blob and dfs are the same account's data.
        where, allowed_where = (w.replace(".dfs.", ".blob.", 1) for w in (where, allowed_where))
    folder = allowed_text.rstrip("/") + "/"
    return (
        (where, kind) == (allowed_where, allowed_kind)
        and (text + "/").startswith(folder)
        and where.partition(".")[0] != HOST_ACCOUNT
    )


_PIECES = [
    *PREFIXES,
    "https://",
    "HTTPS://",
    "azureml://",
    "azureml://datastores/",
    f"{HOST_ACCOUNT}.blob.core.windows.net/",
    "mldata01.blob.core.windows.net",
    "mldata01.dfs.core.windows.net",
    *(f"mldata01.blob.{suffix}/" for suffix in STORAGE_SUFFIXES),
    "curated/paths/",
    "datastores/curated/paths/daily",
    _long_form(WORKSPACE),
    _long_form(scene.DEV),
    "scoring/",
    "in/",
    "inbox/",
    "daily/",
    "x.csv",
    "%2e",
    "%2E%2e/",
    "%2f",
    "%25",
    "%69n/",
    "%2569",
    "..",
    "/",
    "//",
    "@",
    ":443",
    "?",
    "#",
    "sig=s",
    "\\",
    "é",
    " ",
]


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8).map("".join))
def test_no_input_outside_the_prefixes_is_ever_accepted_however_it_is_spelt(path: str) -> None:
    if input_not_allowed(path, WORKSPACE, ALLOWED) is None:
        assert any(_is_under(path, prefix) for prefix in PREFIXES), path


@settings(max_examples=300)
@given(
    prefix=st.sampled_from(PREFIXES),
    tail=st.lists(
        st.text(string.ascii_letters + string.digits + "-_.~", min_size=1, max_size=8),
        min_size=1,
        max_size=4,
    ),
    data=st.data(),
)
def test_inputs_under_a_prefix_pass_whichever_characters_are_percent_encoded(
    prefix: str, tail: list[str], data: st.DataObject
) -> None:
    segments = [s for s in tail if s not in (".", "..")] or ["x"]
    encoded = [
        "".join(
            f"%{ord(ch):02X}" if data.draw(st.booleans(), label="encode") else ch for ch in segment
        )
        for segment in segments
    ]
    path = prefix + "/".join(encoded)
    assert input_not_allowed(path, WORKSPACE, ALLOWED) is None, path
    assert _is_under(path, prefix)


@settings(max_examples=300)
@given(
    account=st.sampled_from([HOST_ACCOUNT, HOST_ACCOUNT.upper(), HOST_ACCOUNT.capitalize()]),
    service=st.sampled_from(["blob", "dfs"]),
    suffix=st.sampled_from(STORAGE_SUFFIXES),
    path=st.text(string.ascii_lowercase + "/%2e", min_size=3, max_size=30),
)
def test_the_host_storage_account_is_never_read_whatever_the_prefixes_say(
    account: str, service: str, suffix: str, path: str
) -> None:
    # Even a list that names it (the settings refuse one; built here by hand all the same).
    own = Location(("storage", HOST_ACCOUNT, suffix, "app-package"), ())
    careless = AllowedInputs((*ALLOWED.prefixes, own), frozenset({HOST_ACCOUNT}))
    url = f"https://{account}.{service}.{suffix}/app-package/{path}"
    assert input_not_allowed(url, WORKSPACE, careless) is not None


# --- settings -----------------------------------------------------------------------------

BASE = {
    "ML_WORKSPACE_IDS": f"{scene.PROD},{scene.DEV}",
    "SYNAPSE_WORKSPACE_IDS": scene.ANALYTICS,
    "LEDGER_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "RETRAIN_WORKSPACE_IDS": scene.PROD,
    "RETRAIN_COMPONENT": "train:1",
    "RETRAIN_COMPUTE": "cpu-cluster",
    **HOST_SETTINGS,
}


def _load(**overrides: str) -> Any:
    return load_settings({**BASE, **overrides})


@pytest.mark.parametrize(
    "host_settings",
    [
        {"AzureWebJobsStorage__accountName": HOST_ACCOUNT},
        {"AzureWebJobsStorage__blobServiceUri": f"https://{HOST_ACCOUNT}.blob.core.windows.net/"},
        {
            "AzureWebJobsStorage__serviceUri": f"https://{HOST_ACCOUNT.upper()}.blob.core.windows.net"
        },
        {
            "AzureWebJobsStorage": f"DefaultEndpointsProtocol=https;AccountName={HOST_ACCOUNT};"
            "AccountKey=a2V5;EndpointSuffix=core.windows.net"
        },
    ],
)
def test_the_host_account_is_found_in_each_form_of_the_host_settings(
    host_settings: dict[str, str],
) -> None:
    environment = {name: value for name, value in BASE.items() if "AzureWebJobs" not in name}
    loaded = load_settings({**environment, **host_settings})
    assert loaded.scoring_allowed_inputs.host_accounts == {HOST_ACCOUNT}
    with pytest.raises(SettingsError, match=r"^SCORING_ALLOWED_INPUTS: item 2 .*host storage"):
        load_settings(
            {
                **environment,
                **host_settings,
                "SCORING_ALLOWED_INPUTS": json.dumps(
                    [PREFIXES[0], f"https://{HOST_ACCOUNT}.blob.core.windows.net/data/"]
                ),
            }
        )


def test_the_allowed_inputs_setting_is_read_normalised() -> None:
    loaded = _load(SCORING_ALLOWED_INPUTS=json.dumps(list(PREFIXES)))
    assert loaded.scoring_allowed_inputs == ALLOWED
    hash(loaded)


@pytest.mark.parametrize(
    "value", ["not json", '{"a": 1}', "[1]", '["https://mldata01.blob.core.windows.net:1/c/"]']
)
def test_a_malformed_allowed_inputs_setting_names_itself(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^SCORING_ALLOWED_INPUTS"):
        _load(SCORING_ALLOWED_INPUTS=value)


def test_an_oversized_allowed_inputs_setting_is_refused_unread_and_unrepeated() -> None:
    # Bounded as every JSON setting is (`_Reader.json_text`): a prefix may hold a SAS token, so
    # the error says how long the value is, never what it holds.
    secret = "https://mldata01.blob.core.windows.net/c/?sig=" + "s" * 70_000
    with pytest.raises(SettingsError, match=r"^SCORING_ALLOWED_INPUTS is \d+ characters long") as e:
        _load(SCORING_ALLOWED_INPUTS=json.dumps([secret]))
    assert "sig=" not in str(e.value)


@pytest.mark.parametrize(
    ("scoring_input", "why"),
    [
        (f"https://{HOST_ACCOUNT}.blob.core.windows.net/azure-webjobs-secrets/a/", "host storage"),
        ("https://mldata01.blob.core.windows.net/scoring/in/?" + SAS, "SAS"),
        ("azureml://datastores/curated/paths/in/?" + SAS, "SAS"),
        ("https://mldata01.blob.core.windows.net/scoring/in/", "datastore path"),
        (_long_form(scene.DEV), "another workspace"),
        ("azureml:churn-input:3", "data asset"),
        ("/proc/self/environ", "accepted forms"),
    ],
)
def test_scoring_input_passes_the_same_check_as_an_http_request(
    scoring_input: str, why: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        _load(BATCH_ENDPOINT_NAME="churn-batch", SCORING_INPUT=scoring_input)
    message = str(raised.value)
    assert message.startswith("SCORING_INPUT")
    assert why in message
    assert SECRET not in message


def test_scoring_input_under_an_allowed_prefix_loads() -> None:
    loaded = _load(
        BATCH_ENDPOINT_NAME="churn-batch",
        SCORING_INPUT=PREFIXES[0] + "day/",
        SCORING_ALLOWED_INPUTS=json.dumps(list(PREFIXES)),
    )
    assert loaded.retraining.scoring_input == PREFIXES[0] + "day/"


@pytest.mark.parametrize(
    "value",
    [
        "/proc/self/environ",
        "./data",
        "../data",
        "~/.azure",
        "file:///etc/passwd",
        "C:\\data",
        "data/train.csv",
        "wasbs://c@mldata01.blob.core.windows.net/x",
        "abfss://c@mldata01.dfs.core.windows.net/x",
        "http://mldata01.blob.core.windows.net/scoring/in/",
        "azureml:churn-input:3",
        f"https://{HOST_ACCOUNT}.blob.core.windows.net/app-package/",
        "https://mldata01.blob.core.windows.net/scoring/in/?" + SAS,
    ],
)
@pytest.mark.parametrize("as_object", [False, True])
def test_retrain_inputs_refuse_local_paths_sas_tokens_and_data_they_may_not_read(
    value: str, as_object: bool
) -> None:
    data = {"type": "uri_folder", "path": value} if as_object else value
    with pytest.raises(SettingsError) as raised:
        _load(
            RETRAIN_INPUTS=json.dumps({"training_data": data, "lr": 0.1}),
            SCORING_ALLOWED_INPUTS=json.dumps(list(PREFIXES)),
        )
    assert str(raised.value).startswith("RETRAIN_INPUTS: input 'training_data'")
    assert SECRET not in str(raised.value)


def test_retrain_inputs_keep_literals_and_allowed_data() -> None:
    inputs = {
        "training_data": "azureml://datastores/curated/paths/daily/",
        "holdout": {"type": "uri_file", "path": PREFIXES[0] + "holdout.csv"},
        "learning_rate": 0.05,
        "metric": "auc",
        "early_stop": True,
        "notes": None,
    }
    loaded = _load(
        RETRAIN_INPUTS=json.dumps(inputs), SCORING_ALLOWED_INPUTS=json.dumps(list(PREFIXES))
    )
    assert loaded.retraining.inputs == inputs


# --- SAS signatures never stored or published ---------------------------------------------


@settings(max_examples=300)
@given(
    before=st.text(max_size=40),
    signature=st.binary(min_size=8, max_size=48),
    separator=st.sampled_from(["?", "&", "%26", "%3F", " ", '"']),
    spelling=st.sampled_from(["sig=", "SIG=", "Sig%3D", "sig%253D"]),
    after=st.sampled_from(["", "&se=2", "%26se%3D2", '"}', " and more"]),
)
def test_a_sas_signature_never_survives_bounding(
    before: str, signature: bytes, separator: str, spelling: str, after: str
) -> None:
    # As a SAS carries it: base64, percent-encoded in the URL (and once more when the URL is
    # itself a query parameter).
    secret = quote(base64.b64encode(signature).decode(), safe="")
    if "%25" in spelling:
        secret = quote(secret, safe="")
    text = f"{before}https://a.blob.core.windows.net/c/x{separator}sv=1{separator}{spelling}"
    kept = bounded(text + secret + after)
    assert secret not in kept
    assert secret[:8] not in kept.removeprefix(before)


def test_an_outcome_event_never_carries_a_sas_signature() -> None:
    record = ActionRecord(
        target_id=scene.PROD,
        kind="batch-scoring",
        verdict="start",
        subject=f"{scene.PROD}/jobs/x",
        reason="scoring https://mldata01.blob.core.windows.net/c/in/?" + SAS,
        mode="enforce",
        outcome=Outcome(Status.APPLIED, "started on e/default"),
        trigger="event:1",
        evidence=json.dumps({"input": "https://mldata01.blob.core.windows.net/c/in/?" + SAS}),
    )
    assert SECRET not in json.dumps(event_data(record))


def test_a_ledger_record_never_keeps_a_sas_signature(app: App) -> None:
    record = ActionRecord(
        target_id=scene.PROD,
        kind="batch-scoring",
        verdict="start",
        subject=f"{scene.PROD}/jobs/x",
        reason="scoring",
        mode="enforce",
        outcome=Outcome(Status.APPLIED, "started on e/default"),
        trigger="event:1",
        evidence=json.dumps({"inputs": {"d": "https://a.blob.core.windows.net/c/?" + SAS}}),
    )
    app.ledger.record_actions([record])
    stored = json.dumps(list(app.ledger.actions(scene.PROD)), default=str)
    assert "sig=REDACTED" in stored
    assert SECRET not in stored


# --- over HTTP ----------------------------------------------------------------------------


def _post(path: str) -> Any:
    return host.call_http(
        "start_scoring",
        method="POST",
        url=f"{ss.APP_URL}/scoring-jobs",
        headers={"Content-Type": "application/json", **ss.caller_headers(ss.LOGIC_APP)},
        body=json.dumps(
            {"endpoint": "fraud-scoring", "input": {"type": "uri_folder", "path": path}}
        ).encode(),
    )


@pytest.mark.parametrize(
    "path",
    [
        "https://mldata01.blob.core.windows.net/scoring/in/",
        f"https://{HOST_ACCOUNT}.blob.core.windows.net/azure-webjobs-secrets/app/",
        "azureml:churn-input:3",
        _long_form(scene.DEV),
    ],
)
def test_an_input_the_app_may_not_read_is_422_and_starts_nothing(scoring: App, path: str) -> None:
    scoring.set_settings(**ss.settings_env(), **HOST_SETTINGS)
    response = _post(path)
    assert response.status_code == 422
    problem = json.loads(response.get_body())
    assert (problem["type"], problem["field"]) == ("/api/problems/not-allowed", "input.path")
    assert path not in problem["detail"]
    assert scoring.sim.ml.scoring_posts == []


def test_an_input_under_an_allowed_prefix_starts_a_job_and_one_beside_it_does_not(
    scoring: App,
) -> None:
    scoring.set_settings(
        **ss.settings_env(), **HOST_SETTINGS, SCORING_ALLOWED_INPUTS=json.dumps(list(PREFIXES))
    )
    assert _post(PREFIXES[0] + "day-1/").status_code == 202
    assert _post("https://mldata01.blob.core.windows.net/scoring/inbox/").status_code == 422
    assert _post(ss.INPUT).status_code == 422  # a datastore the list does not name
    assert len(scoring.sim.ml.scoring_posts) == 1


DATASTORE = "azureml://datastores/workspaceblobstore/paths/"


STORAGE = "https://mlstore.blob.core.windows.net/scoring/"


# --- input paths (pure) --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "segment",
    [
        "%252e%252e",  # decoded twice: '..'
        "%25252E%25252E",  # three times
        ".%252e",
        "%252F",  # a separator after two decodings
        "%255C",
    ],
)
def test_a_traversal_or_separator_encoded_more_than_once_is_refused(segment: str) -> None:
    for base in (DATASTORE, STORAGE):
        assert input_path_problem(f"{base}a/{segment}/b") is not None


@pytest.mark.slow
@pytest.mark.parametrize(
    "segment", ["%00", "%0a", "%0D%0A", "%7f", "%2500", "%ff", "%C3", "%e2%80%ae"]
)
def test_a_percent_encoded_control_character_or_non_utf8_byte_is_refused(segment: str) -> None:
    # %e2%80%ae is U+202E (right-to-left override): not printable, it would disguise a path.
    assert input_path_problem(f"{DATASTORE}in/{segment}.csv") is not None


@pytest.mark.slow
@pytest.mark.parametrize("segment", ["%3Fsv%3D1%26sig%3Dabc", "x%3f", "%23sig=abc", "%253Fsig"])
def test_a_query_or_fragment_hidden_in_percent_encoding_is_refused(segment: str) -> None:
    for base in (DATASTORE, STORAGE):
        reason = input_path_problem(f"{base}in/{segment}")
        assert reason is not None
        assert "sig" not in reason


@pytest.mark.slow
@pytest.mark.parametrize("segment", ["%", "%2", "%zz", "a%g0"])
def test_a_malformed_percent_escape_is_refused(segment: str) -> None:
    assert input_path_problem(f"{DATASTORE}in/{segment}") is not None


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        f"{DATASTORE}in/caf%C3%A9.csv",  # encoded UTF-8 text is a real file name
        f"{DATASTORE}in/my%20file.csv",
        f"{STORAGE}in/100%25.csv",  # a literal '%' in a blob name
        f"{DATASTORE}in/.../x",  # three dots is a name, not a traversal
    ],
)
def test_plain_percent_encoded_names_still_pass(path: str) -> None:
    assert input_path_problem(path) is None


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        "AzureML://datastores/workspaceblobstore/paths/in/",
        "HTTPS://mlstore.blob.core.windows.net/scoring/in/",
        "https://MLSTORE.blob.core.windows.net/scoring/in/",
        "https://mlstore.blob.core.windows.net:443/scoring/in/",
        "https://user@mlstore.blob.core.windows.net/scoring/in/",
        "https://mlstore.blob.core.windows.net.evil.com/scoring/in/",
        "https://mlstore.blob.core.windows.net@evil.com/scoring/in/",
        "https://mlstore.blob.core.windows.net./scoring/in/",
        "https://10.1.2.3/scoring/in/",
        "https://[::1]/scoring/in/",
        "https://mlstore.blob.core.windows.net//in/",
        "https://mlstore.blob.core.windows.net/scoring//in/",
        "azureml://datastores//paths/in/",
        "azureml://datastores/ws/paths/",
        "azureml://datastores/ws/paths//in",
        "azureml:churn-input:",
        "azureml:churn-input",
        "azureml:churn-input:-1",
        "azureml:churn-input:1:2",
        "azureml:churn-input:1/../x",
        "azureml:churn-input@latest",
        "azureml:churn-input:1 ",
        " azureml:churn-input:1",
        "azureml:churn-input:1\x00",
        "https://mlstore.blob.core.windows.net/scoring/in/\u2024\u2024/x",
        "https://mlstore.blob.core.windows.net/scoring/in/\uff0e\uff0e/x",
        "https://mlstore.blob.core.windows.net/scoring/in\\..\\x",
    ],
)
def test_spellings_outside_the_three_forms_are_refused(path: str) -> None:
    assert input_path_problem(path) is not None


@pytest.mark.slow
@given(
    base=st.sampled_from([DATASTORE, STORAGE]),
    name=st.text(string.ascii_letters + string.digits + "%._-", min_size=1, max_size=30),
)
def test_whatever_passes_has_no_traversal_query_or_control_after_any_number_of_decodings(
    base: str, name: str
) -> None:
    from urllib.parse import unquote

    path = f"{base}in/{name}"
    if input_path_problem(path) is not None:
        return
    text = path
    for _ in range(len(path)):
        decoded = unquote(text, errors="strict")
        if decoded == text:
            break
        text = decoded
    relative = text.removeprefix(base)
    assert relative.isprintable()
    assert not {"?", "#", "\\"} & set(relative)
    assert not {".", ".."} & set(relative.split("/"))
