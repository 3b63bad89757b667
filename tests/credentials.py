"""A credential of each shape `shared.bounds.redacted` knows, placed so that a sink's cut (at a
length) falls anywhere in it: what the sink shows must never hold a piece of it. A cut before the
redaction lets part of one through, as the patterns need its whole marker or shape."""

from __future__ import annotations

import string
from typing import NoReturn

from hypothesis import strategies as st

# Each piece of one holds a capital, a small letter and a digit: no fixed text of a sink (an ARM
# ID, a GUID, REDACTED) holds such a piece, so one found is the credential's.
_KINDS = (string.ascii_uppercase, string.ascii_lowercase, string.digits)
_TRIPLE = st.tuples(*(st.sampled_from(kind) for kind in _KINDS)).map("".join)
SECRET = st.lists(_TRIPLE, min_size=8, max_size=20).map("".join)
SHAPES = (
    "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig={}",
    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={}",
    "eyJ{}",  # a JWT: an Entra token
    "https://admin:{}@host.example/p",
    "Authorization: Bearer {}",
)
# The characters a piece must have to count as leaked.
PIECE = 8


@st.composite
def placed(
    draw: st.DrawFn, cut: int, *, before: int = 80, line_break: bool = False
) -> tuple[str, str]:
    """(text, secret): a credential after padding such that a cut `cut` characters into the text,
    or up to `before` characters earlier (a sink's own words come first), falls in its secret; with
    `line_break`, the user info's password holds a line break (valid there, URL parsers drop it)."""
    secret = draw(SECRET)
    shape = draw(st.sampled_from(SHAPES))
    if line_break and "@" in shape:
        at = draw(st.integers(0, len(secret)))
        secret = secret[:at] + "\n" + secret[at:]
    credential = shape.format(secret)
    # How far into the secret the cut falls, give or take the sink's own words (up to `before`).
    into = (
        credential.index(secret) + draw(st.integers(-2, len(secret))) + draw(st.integers(0, before))
    )
    pad = max(0, cut - into)
    return "~" * pad + credential + " and more", secret


def leaked(secret: str, shown: str) -> str | None:
    """A piece of `secret` (`PIECE` characters in a row) found in `shown`, if any."""
    pieces = (secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1))
    return next((piece for piece in pieces if "\n" not in piece and piece in shown), None)


def fail_holding(secret: str) -> NoReturn:
    """A fault of the app's own whose text holds `secret` in a SAS URL, raised from one holding
    it in a URL's user info: all a traceback of it shows must not hold a piece of `secret`."""
    try:
        raise ValueError(f"max retries exceeded with url: https://svc:{secret}@host.example/")
    except ValueError as error:
        sas = f"https://acct.blob.core.windows.net/c/x?sv=2022&sig={secret}"
        raise RuntimeError(sas) from error
