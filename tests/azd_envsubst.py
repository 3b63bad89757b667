"""How azd fills infra/main.parameters.json from the azd environment, ported for the tests.

azd (Azure/azure-dev, cli/azd/pkg/infra/provisioning/bicep/bicep_provider.go, `loadParameters`
and `evalParamEnvSubst`) runs github.com/drone/envsubst v1.0.3 (`envsubst.Eval`, pinned in
cli/azd/go.mod) over each parameter:

- an `array` or `object` parameter whose value is a string: over that string alone; the result
  is then parsed as JSON ("Path A"); empty with an unset variable: the parameter is left out;
- any other parameter: over the JSON text of `{"value": ...}` (Go's json.Marshal), which is then
  parsed back ("Path B"); so a value is pasted into JSON text as it is, unescaped; a string
  parameter left empty by an unset variable is left out.

The scanner and parser below follow drone/envsubst v1.0.3 `parse/scan.go` and `parse/parse.go`
line by line (same modes, same accept functions, the same `skip` of escape characters), for the
forms a parameters file uses: text, `${NAME}` and the default functions (`${NAME=word}`,
`${NAME:-word}`, `${NAME:=word}`, ...), whose word is scanned up to the first `}`: so
`${X={}}` is the expression `${X={}` followed by the text `}`. Other functions (`${NAME/a/b}`,
`${#NAME}`, ...) raise NotImplementedError: the parameters file must not use them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_EOF = ""
_IDENT, _LBRACK, _RBRACK, _ESCAPE = 1, 2, 4, 8
_T_ILLEGAL, _T_EOF, _T_IDENT, _T_LBRACK, _T_RBRACK = range(5)

Accept = Callable[[str, int], bool]


class BadSubstitutionError(ValueError):
    """envsubst's parse errors (ErrBadSubstitutionError and its kin)."""


@dataclass
class _Text:
    value: str


@dataclass
class _Func:
    param: str
    name: str = ""
    args: list[Any] = field(default_factory=list)


@dataclass
class _Scanner:
    buf: str
    pos: int = 0
    start: int = 0
    width: int = 0
    mode: int = 0
    accept: Accept = lambda r, i: True

    def read(self) -> str:
        if self.pos >= len(self.buf):
            self.width = 0
            return _EOF
        self.width = 1
        self.pos += 1
        return self.buf[self.pos - 1]

    def unread(self) -> None:
        self.pos -= self.width

    def skip(self) -> None:
        self.buf = self.buf[: self.pos - 1] + self.buf[self.pos :]

    def peek(self) -> str:
        r = self.read()
        self.unread()
        return r

    def string(self) -> str:
        return self.buf[self.start : self.pos]

    def scan(self) -> int:
        self.start = self.pos
        r = self.read()
        if r == _EOF:
            return _T_EOF
        if self.scan_lbrack(r):
            return _T_LBRACK
        if self.scan_rbrack(r):
            return _T_RBRACK
        if self.scan_ident(r):
            return _T_IDENT
        return _T_ILLEGAL

    def scan_ident(self, r: str) -> bool:
        if not self.mode & _IDENT:
            return False
        if self.scan_escaped(r):
            self.skip()
        elif not self.accept(r, self.pos - self.start):
            return False
        while True:
            r = self.read()
            if r == _EOF:
                self.unread()
                break
            if self.scan_lbrack(r):
                self.unread()
                self.unread()
                break
            if self.scan_escaped(r):
                self.skip()
                continue
            if not self.accept(r, self.pos - self.start):
                self.unread()
                break
        return True

    def scan_lbrack(self, r: str) -> bool:
        if not self.mode & _LBRACK:
            return False
        if r == "$":
            if self.read() == "{":
                return True
            self.unread()
        return False

    def scan_rbrack(self, r: str) -> bool:
        return bool(self.mode & _RBRACK) and r == "}"

    def scan_escaped(self, r: str) -> bool:
        if not self.mode & _ESCAPE:
            return False
        if r == "$" and self.peek() == "$":
            return True
        return r == "\\" and self.peek() in ("/", "\\")


def _accept_ident(r: str, i: int) -> bool:
    return r.isalnum() or r == "_"


def _accept_not_closing(r: str, i: int) -> bool:
    return r != "}"


def _accept_one_equal(r: str, i: int) -> bool:
    return i == 1 and r == "="


def _accept_default_func(r: str, i: int) -> bool:
    return (i == 1 and r == ":") or (i == 2 and r in "=-?+")


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = _Scanner(text)

    def parse_any(self) -> list[Any]:
        nodes: list[Any] = []
        while True:
            self.s.accept = lambda r, i: True
            self.s.mode = _IDENT | _LBRACK | _ESCAPE
            token = self.s.scan()
            if token == _T_IDENT:
                nodes.append(_Text(self.s.string()))
            elif token == _T_EOF:
                return nodes
            elif token == _T_LBRACK:
                nodes.append(self.parse_func())
            else:
                raise BadSubstitutionError("bad substitution")

    def parse_func(self) -> _Func:
        if self.s.peek() == "#":
            raise NotImplementedError("${#NAME}")
        self.s.accept = _accept_ident
        self.s.mode = _IDENT
        if self.s.scan() != _T_IDENT:
            raise BadSubstitutionError("unable to parse variable name")
        name = self.s.string()
        following = self.s.peek()
        if following == ":":
            return self.parse_default_or_substr(name)
        if following == "=":
            return self.parse_default_func(name)
        if following in (",", "^", "/", "#", "%"):
            raise NotImplementedError(f"${{{name}{following}...}}")
        self.s.accept = _accept_ident
        self.s.mode = _RBRACK
        if self.s.scan() != _T_RBRACK:
            raise BadSubstitutionError("missing closing brace")
        return _Func(name)

    def parse_param(self, accept: Accept, mode: int) -> Any:
        self.s.accept = accept
        self.s.mode = mode | _LBRACK
        token = self.s.scan()
        if token == _T_LBRACK:
            return self.parse_func()
        if token in (_T_IDENT, _T_RBRACK):
            return _Text(self.s.string())
        raise BadSubstitutionError("unable to parse substitution within function")

    def parse_default_or_substr(self, name: str) -> _Func:
        self.s.read()
        r = self.s.peek()
        self.s.unread()
        if r in ("=", "-", "?", "+"):
            return self.parse_default_func(name)
        raise NotImplementedError(f"${{{name}:offset}}")

    def parse_default_func(self, name: str) -> _Func:
        node = _Func(name)
        self.s.accept = _accept_one_equal if self.s.peek() == "=" else _accept_default_func
        self.s.mode = _IDENT
        if self.s.scan() != _T_IDENT:
            raise BadSubstitutionError("unable to parse default function")
        node.name = self.s.string()
        while True:
            if self.s.peek() == "}":
                self.s.mode = _RBRACK
                if self.s.scan() != _T_RBRACK:
                    raise BadSubstitutionError("bad substitution")
                return node
            node.args.append(self.parse_param(_accept_not_closing, _IDENT))


def _execute(nodes: list[Any], mapping: Callable[[str], str]) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, _Text):
            out.append(node.value)
            continue
        args = [_execute([arg], mapping) for arg in node.args]
        value = mapping(node.param)
        # template.go lookupFunc: every default form is toDefault (funcs.go): the value if it is
        # not empty, else the arguments joined without a separator.
        out.append(value if value or not args else "".join(args))
    return "".join(out)


def envsubst(text: str, mapping: Callable[[str], str]) -> str:
    """drone/envsubst's Eval(text, mapping)."""
    return _execute(_Parser(text).parse_any(), mapping)


_PARAM = re.compile(r"^param\s+(\w+)\s+(\w+)", re.MULTILINE)


def bicep_parameter_types(bicep: str) -> dict[str, str]:
    """`param <name> <type>` of a Bicep file: the types azd reads from the compiled template."""
    return {name: kind for name, kind in _PARAM.findall(bicep)}


_OMITTED = object()


def load_parameter(
    name: str, param: Mapping[str, Any], kind: str | None, env: Mapping[str, str]
) -> Any:
    """The value azd passes for one parameter, or `_OMITTED` (then Bicep's default applies).

    Raises ValueError where azd fails the provision (the result is not JSON)."""
    unset = False

    def mapping(variable: str) -> str:
        nonlocal unset
        if variable not in env:
            unset = True
        return env.get(variable, "")

    value = param.get("value")
    if kind in ("array", "object") and isinstance(value, str):
        replaced = envsubst(value, mapping)
        if replaced == "" and unset:
            return _OMITTED
        return json.loads(replaced)
    # Go's json.Marshal escapes <, > and & inside strings; envsubst does not care, json does not.
    replaced = envsubst(json.dumps(dict(param), separators=(",", ":")), mapping)
    resolved = json.loads(replaced)
    result = resolved.get("value")
    if result is None or (result == "" and unset):
        return _OMITTED
    return result


def load_parameters(
    parameters_file: Mapping[str, Any], bicep: str, env: Mapping[str, str]
) -> dict[str, Any]:
    """Every parameter azd passes to the deployment, by name (left-out ones absent)."""
    kinds = bicep_parameter_types(bicep)
    loaded: dict[str, Any] = {}
    for name, param in parameters_file["parameters"].items():
        value = load_parameter(name, param, kinds.get(name), env)
        if value is not _OMITTED:
            loaded[name] = value
    return loaded
