"""Checking Azure's answer against what was asked: a write is applied only when Azure's answer
shows it, and a write goes only to a target built from the configured workspace ID."""

from __future__ import annotations

from shared.arm import ArmId, same_arm_id
from shared.bounds import excerpt
from shared.model import JudgedAnswerError


class UnexpectedAnswerError(JudgedAnswerError):
    """A write answered with something other than what was asked: it is not applied."""


class RefusedTargetError(JudgedAnswerError):
    """A write target that is not a plain child name of the configured workspace: not written."""


class GuardNoLongerHoldsError(JudgedAnswerError):
    """Read again just before the write, the resource no longer passes its guard: deferred."""


def check_answer(answered_id: str, asked_id: str, what: str, value: object, asked: object) -> None:
    check_named(answered_id, asked_id, f"asked for {asked_id}")
    if value != asked:
        raise UnexpectedAnswerError(f"ARM's answer shows {what} {value}, not {asked}")


def check_named(answered: object, asked: str, doing: str) -> None:
    if not isinstance(answered, str) or not same_arm_id(answered, asked):
        raise UnexpectedAnswerError(f"{doing}, Azure answered {excerpt(answered, 300)!r}")


def child_name(name: str, kind: str, workspace_id: ArmId) -> str:
    """`name` unless a separator in it could point the SDK's URL elsewhere."""
    odd = name in ("", ".", "..") or len(name) > 260 or any(ch in name for ch in "/\\?#%&")
    if odd or not (name.isascii() and name.isprintable()):
        raise RefusedTargetError(f"{kind} name {name!r} of {workspace_id} is not a plain name")
    return name
