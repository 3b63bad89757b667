"""Retraining settings: off unless RETRAIN_WORKSPACE_IDS names workspaces in scope, and every
other retraining setting validated with an error that names it."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.config import (
    DEFAULT_RETRAIN_COOLDOWN_MINUTES,
    MAX_JSON_SETTING_CHARS,
    ComponentRef,
    Promotion,
    SettingsError,
    load_settings,
)
from tests.credentials import leaked, placed

SUB = "00000000-1111-2222-3333-444444444444"
WORKSPACES = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.MachineLearningServices"
PROD = f"{WORKSPACES}/workspaces/prod"
DEV = f"{WORKSPACES}/workspaces/dev"
OTHER = f"{WORKSPACES}/workspaces/other"
SYNAPSE = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/syn"

BASE = {
    "ML_WORKSPACE_IDS": f"{PROD},{DEV}",
    "SYNAPSE_WORKSPACE_IDS": SYNAPSE,
    "LEDGER_CONNECTION_STRING": "UseDevelopmentStorage=true",
}
RETRAINING = {
    "RETRAIN_WORKSPACE_IDS": PROD,
    "RETRAIN_COMPONENT": "train@latest",
    "RETRAIN_COMPUTE": "cpu-cluster",
}


def test_retraining_is_off_without_retrain_workspace_ids() -> None:
    settings = load_settings(BASE)
    assert settings.retraining is None
    assert settings.aml_inference_domain == "inference.ml.azure.com"
    assert settings.logs_query_endpoint == "https://api.loganalytics.io/v1"


def test_the_least_retraining_configuration_and_its_defaults() -> None:
    settings = load_settings({**BASE, **RETRAINING})
    config = settings.retraining
    assert config is not None
    assert config.workspace_ids == (PROD,)
    assert config.component == ComponentRef("train", label="latest")
    assert config.inputs == {}
    assert config.cooldown_minutes == DEFAULT_RETRAIN_COOLDOWN_MINUTES
    assert config.job_timeout_hours == 24
    assert config.drift_gate is None
    assert config.batch_endpoint_name is None
    assert config.retrains(PROD.upper())
    assert not config.retrains(DEV)


def test_everything_set() -> None:
    settings = load_settings(
        {
            **BASE,
            **RETRAINING,
            "RETRAIN_WORKSPACE_IDS": f"{PROD},{DEV}",
            "RETRAIN_COMPONENT": "azureml:train:3",
            "RETRAIN_INPUTS": '{"lr": 0.1, "data": {"type": "uri_folder", "path": "azureml://datastores/ws/paths/x/"}}',
            "RETRAIN_EXPERIMENT": "churn",
            "RETRAIN_COOLDOWN_MINUTES": "0",
            "RETRAIN_JOB_TIMEOUT_HOURS": "6",
            "RETRAIN_SCHEDULE": "0 0 2 * * 0",
            "DRIFT_LOG_ANALYTICS_WORKSPACE_ID": "3F0C2B1A-9D8E-4C7B-A6F5-E4D3C2B1A090",
            "DRIFT_QUERY": "T | summarize max(x)",
            "DRIFT_THRESHOLD": "0.25",
            "BATCH_ENDPOINT_NAME": "churn-batch",
            "BATCH_DEPLOYMENT_NAME": "blue",
            "SCORING_INPUT": "azureml://datastores/ws/paths/in/",
            "AML_INFERENCE_DOMAIN": "Inference.ML.Azure.US",
            "ARM_ENDPOINT": "https://management.usgovcloudapi.net",  # the domain's cloud
            "LOGS_QUERY_ENDPOINT": "https://api.loganalytics.us/v1/",
        }
    )
    config = settings.retraining
    assert config is not None
    assert config.component == ComponentRef("train", version="3")
    assert config.inputs["lr"] == 0.1
    assert config.cooldown_minutes == 0
    assert config.job_timeout_hours == 6
    assert config.drift_gate is not None
    assert config.drift_gate.threshold == 0.25
    assert config.drift_gate.log_analytics_workspace_id == "3f0c2b1a-9d8e-4c7b-a6f5-e4d3c2b1a090"
    assert settings.aml_inference_domain == "inference.ml.azure.us"
    assert settings.aml_audience == "https://ml.azure.us"
    assert settings.logs_query_endpoint == "https://api.loganalytics.us/v1"
    hash(settings)  # settings stay hashable: clients are cached per settings value


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"RETRAIN_WORKSPACE_IDS": OTHER}, "RETRAIN_WORKSPACE_IDS"),
        ({"RETRAIN_WORKSPACE_IDS": SYNAPSE}, "RETRAIN_WORKSPACE_IDS"),
        ({"RETRAIN_COMPONENT": ""}, "RETRAIN_COMPONENT"),
        ({"RETRAIN_COMPONENT": "train"}, "RETRAIN_COMPONENT"),
        ({"RETRAIN_COMPONENT": "train:1@latest"}, "RETRAIN_COMPONENT"),
        ({"RETRAIN_COMPONENT": "train:"}, "RETRAIN_COMPONENT"),
        ({"RETRAIN_COMPONENT": "../x:1"}, "RETRAIN_COMPONENT"),
        ({"RETRAIN_COMPONENT": "train\n:1"}, "RETRAIN_COMPONENT"),  # `$` let a newline through
        ({"RETRAIN_COMPUTE": ""}, "RETRAIN_COMPUTE"),
        ({"RETRAIN_COMPUTE": "cpu cluster"}, "RETRAIN_COMPUTE"),
        # azure-ai-ml runs a job on "local" on the app's own host.
        ({"RETRAIN_COMPUTE": "local"}, "RETRAIN_COMPUTE"),
        ({"RETRAIN_COMPUTE": "Local"}, "RETRAIN_COMPUTE"),
        ({"RETRAIN_INPUTS": "[1, 2]"}, "RETRAIN_INPUTS"),
        ({"RETRAIN_INPUTS": "{not json"}, "RETRAIN_INPUTS"),
        ({"RETRAIN_COOLDOWN_MINUTES": "-5"}, "RETRAIN_COOLDOWN_MINUTES"),
        ({"RETRAIN_COOLDOWN_MINUTES": "6h"}, "RETRAIN_COOLDOWN_MINUTES"),
        ({"RETRAIN_JOB_TIMEOUT_HOURS": "0"}, "RETRAIN_JOB_TIMEOUT_HOURS"),
        ({"RETRAIN_JOB_TIMEOUT_HOURS": "8761"}, "RETRAIN_JOB_TIMEOUT_HOURS"),
        ({"RETRAIN_JOB_TIMEOUT_HOURS": "1.5"}, "RETRAIN_JOB_TIMEOUT_HOURS"),
        ({"RETRAIN_SCHEDULE": "0 2 * * 0"}, "RETRAIN_SCHEDULE"),
        ({"DRIFT_QUERY": "T"}, "DRIFT_LOG_ANALYTICS_WORKSPACE_ID"),
        (
            {"DRIFT_QUERY": "T", "DRIFT_LOG_ANALYTICS_WORKSPACE_ID": "ws"},
            "DRIFT_LOG_ANALYTICS_WORKSPACE_ID",
        ),
        (
            {"DRIFT_QUERY": "T", "DRIFT_LOG_ANALYTICS_WORKSPACE_ID": SUB},
            "DRIFT_THRESHOLD",
        ),
        (
            {"DRIFT_QUERY": "T", "DRIFT_LOG_ANALYTICS_WORKSPACE_ID": SUB, "DRIFT_THRESHOLD": "nan"},
            "DRIFT_THRESHOLD",
        ),
        (
            {
                "DRIFT_QUERY": "T",
                "DRIFT_LOG_ANALYTICS_WORKSPACE_ID": SUB,
                "DRIFT_THRESHOLD": "\u0663",
            },
            "DRIFT_THRESHOLD",
        ),
        ({"BATCH_ENDPOINT_NAME": "churn-batch"}, "SCORING_INPUT"),
        (
            {"BATCH_ENDPOINT_NAME": "churn-batch", "SCORING_INPUT": "abfss://c@a.dfs/x"},
            "SCORING_INPUT",
        ),
        ({"BATCH_ENDPOINT_NAME": "a/b", "SCORING_INPUT": "azureml://x/"}, "BATCH_ENDPOINT_NAME"),
        ({"AML_INFERENCE_DOMAIN": "https://inference.ml.azure.com"}, "AML_INFERENCE_DOMAIN"),
        ({"AML_INFERENCE_DOMAIN": ".ml.azure.com"}, "AML_INFERENCE_DOMAIN"),
        ({"LOGS_QUERY_ENDPOINT": "http://api.loganalytics.io/v1"}, "LOGS_QUERY_ENDPOINT"),
    ],
)
def test_a_bad_retraining_setting_is_named(overrides: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings({**BASE, **RETRAINING, **overrides})


# Any text, or text glued before a domain the app accepts (one of no known cloud with its
# AML_AUDIENCE): text alone is all but always refused, and what is accepted went unchecked.
domains = st.one_of(
    st.text(min_size=1, max_size=30),
    st.builds(
        "{}{}".format,
        st.text(string.ascii_letters + string.digits + ".-_/:@?é ", max_size=12),
        st.sampled_from([".inference.ml.azure.com", ".inference.ml.azure.cn", ".b.example"]),
    ),
)


@given(domain=domains, audience=st.sampled_from([{}, {"AML_AUDIENCE": "https://ml.azure.com"}]))
def test_the_inference_domain_is_a_plain_dns_name_or_refused(
    domain: str, audience: dict[str, str]
) -> None:
    try:
        settings = load_settings({**BASE, "AML_INFERENCE_DOMAIN": domain, **audience})
    except SettingsError:
        return
    accepted = settings.aml_inference_domain
    assert accepted.isascii()
    assert all(ch.isalnum() or ch in ".-" for ch in accepted)
    assert not accepted.startswith(".")
    assert not accepted.endswith(".")


# ------------------------------------------------------------------ promotion

SCORING = {
    "BATCH_ENDPOINT_NAME": "churn-batch",
    "SCORING_INPUT": "azureml://datastores/ws/paths/in/",
}
PROMOTING = {**SCORING, "PROMOTION_METRIC": "accuracy", "PROMOTION_MODEL_NAME": "churn-model"}


def test_promotion_is_off_without_a_metric_and_has_its_defaults_with_one() -> None:
    off = load_settings({**BASE, **RETRAINING, **SCORING}).retraining
    assert off is not None
    assert off.promotion is None
    on = load_settings({**BASE, **RETRAINING, **PROMOTING}).retraining
    assert on is not None
    assert on.promotion == Promotion(
        metric="accuracy",
        higher_is_better=True,
        min_delta=0.0,
        model_name="churn-model",
        keep=2,
        score_when_not_promoted=True,
    )


def test_promotion_everything_set() -> None:
    settings = load_settings(
        {
            **BASE,
            **RETRAINING,
            **PROMOTING,
            "PROMOTION_METRIC": "val/rmse",
            "PROMOTION_DIRECTION": "Lower",
            "PROMOTION_MIN_DELTA": "0.005",
            "PROMOTION_KEEP": "3",
            "SCORE_WHEN_NOT_PROMOTED": "false",
        }
    )
    assert settings.retraining is not None
    assert settings.retraining.promotion == Promotion(
        "val/rmse", False, 0.005, "churn-model", 3, False
    )


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"BATCH_ENDPOINT_NAME": "", "SCORING_INPUT": ""}, "BATCH_ENDPOINT_NAME"),
        ({"PROMOTION_MODEL_NAME": ""}, "PROMOTION_MODEL_NAME"),
        ({"PROMOTION_MODEL_NAME": "a/b"}, "PROMOTION_MODEL_NAME"),
        ({"PROMOTION_METRIC": "acc'uracy"}, "PROMOTION_METRIC"),
        ({"PROMOTION_DIRECTION": "up"}, "PROMOTION_DIRECTION"),
        ({"PROMOTION_MIN_DELTA": "-0.1"}, "PROMOTION_MIN_DELTA"),
        ({"PROMOTION_MIN_DELTA": "nan"}, "PROMOTION_MIN_DELTA"),
        ({"PROMOTION_MIN_DELTA": "a lot"}, "PROMOTION_MIN_DELTA"),
        # float() takes other scripts' digits and '_': a number is written in ASCII digits.
        ({"PROMOTION_MIN_DELTA": "\u0660.\u0661"}, "PROMOTION_MIN_DELTA"),
        ({"PROMOTION_MIN_DELTA": "0.0_1"}, "PROMOTION_MIN_DELTA"),
        ({"PROMOTION_KEEP": "1"}, "PROMOTION_KEEP"),
        ({"PROMOTION_KEEP": "two"}, "PROMOTION_KEEP"),
        ({"SCORE_WHEN_NOT_PROMOTED": "maybe"}, "SCORE_WHEN_NOT_PROMOTED"),
    ],
)
def test_a_bad_promotion_setting_is_named(overrides: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings({**BASE, **RETRAINING, **PROMOTING, **overrides})


# ----------------------------------------------------------------------------- settings

_BASE = {**BASE, **RETRAINING}


@pytest.mark.parametrize("minutes", ["525601", "99999999999999999999"])
def test_a_cooldown_beyond_a_year_is_a_settings_error(minutes: str) -> None:
    with pytest.raises(SettingsError, match="RETRAIN_COOLDOWN_MINUTES"):
        load_settings({**_BASE, "RETRAIN_COOLDOWN_MINUTES": minutes})


def test_a_cooldown_of_a_year_is_accepted() -> None:
    settings = load_settings({**_BASE, "RETRAIN_COOLDOWN_MINUTES": "525600"})
    assert settings.retraining is not None
    assert settings.retraining.cooldown_minutes == 525600


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_retrain_inputs_with_a_non_json_number_is_a_settings_error(constant: str) -> None:
    with pytest.raises(SettingsError, match="RETRAIN_INPUTS"):
        load_settings({**_BASE, "RETRAIN_INPUTS": '{"learning_rate": ' + constant + "}"})


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ('{"a":' * 20 + "1" + "}" * 20, "is nested too deeply: expected JSON at most 16"),
        ('{"a": "' + "x" * MAX_JSON_SETTING_CHARS + '"}', "characters long: expected at most"),
    ],
    ids=["nested", "long"],
)
def test_retrain_inputs_past_the_json_bounds_are_named_once(value: str, says: str) -> None:
    # As every JSON setting says it: not wrapped in "is not valid JSON", naming it twice.
    with pytest.raises(SettingsError) as raised:
        load_settings({**BASE, **RETRAINING, "RETRAIN_INPUTS": value})
    message = str(raised.value)
    assert message.startswith("RETRAIN_INPUTS is "), message
    assert says in message
    assert message.count("RETRAIN_INPUTS") == 1, message


# A setting's value is repeated cut to a length: redacted first, no piece of a credential shows.
_SHOWN = {
    "RETRAIN_COOLDOWN_MINUTES": ({}, 40, "{}"),
    "PROMOTION_METRIC": (PROMOTING, 60, "{}"),
    "PROMOTION_MIN_DELTA": (PROMOTING, 40, "{}"),
    "RETRAIN_INPUTS": ({}, 80, '{{"{}": "./local"}}'),
}


@given(st.data(), st.sampled_from(sorted(_SHOWN)))
def test_a_settings_error_shows_no_piece_of_a_credential_however_the_value_is_cut(
    data: st.DataObject, setting: str
) -> None:
    extra, cut, template = _SHOWN[setting]
    text, secret = data.draw(placed(cut, before=8))
    with pytest.raises(SettingsError) as raised:
        load_settings({**_BASE, **extra, setting: template.format(text)})
    assert leaked(secret, str(raised.value)) is None, str(raised.value)
