"""The scoring starter's refusals (`shared.scoring.service`): what an error of Azure's becomes."""

from __future__ import annotations

import string
from types import SimpleNamespace

import pytest
from azure.core.exceptions import HttpResponseError
from hypothesis import given
from hypothesis import strategies as st

from shared.scoring.contract import RETRY_AFTER_SECONDS
from shared.scoring.requests import RefusedError
from shared.scoring.service import _refuse


def _unavailable(retry_after: str) -> HttpResponseError:
    headers = {"Retry-After": retry_after}
    response = SimpleNamespace(status_code=503, reason="Service Unavailable", headers=headers)
    return HttpResponseError(response=response)


# Azure's Retry-After as sent: digits of any script, leading zeros past int()'s 4,300 digits.
retry_after_texts = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="0123456789\u00b2\u2463\u0661", min_size=1, max_size=20),
    st.integers(0, 6_000).map(lambda zeros: "0" * zeros + "3"),
)


@given(retry_after_texts)
def test_a_transient_refusal_waits_azures_whole_seconds_or_the_default(value: str) -> None:
    with pytest.raises(RefusedError) as refused:
        _refuse(_unavailable(value), field="input", what="submitting the scoring job")
    problem = refused.value.problem
    assert problem.kind == "unavailable"
    digits = value.strip()
    if digits.isascii() and digits.isdigit() and len(digits.lstrip("0")) <= 18:
        assert problem.retry_after == max(1, int(digits.lstrip("0") or "0"))
    else:
        assert problem.retry_after == RETRY_AFTER_SECONDS


@given(
    status=st.sampled_from([400, 403, 404, 409, 429, 500, 503]),
    secret=st.text(alphabet=string.ascii_letters + string.digits + "-._~%!$&'()*+,;=:"),
)
def test_a_refusal_never_answers_a_credential_azure_put_in_its_error(
    status: int, secret: str
) -> None:
    # Whatever Azure's error repeats (a URL with its user info) is the caller's detail: redacted.
    message = f"could not reach https://svc:pw-{secret}@store.blob.core.windows.net/in"
    response = SimpleNamespace(status_code=status, reason="refused", headers={})
    error = HttpResponseError(message=message, response=response)
    with pytest.raises(RefusedError) as refused:
        _refuse(error, field="input", what="submitting the scoring job")
    assert f"pw-{secret}" not in str(refused.value.problem.body())
