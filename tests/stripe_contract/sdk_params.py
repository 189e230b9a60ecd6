"""Which parameter definition the ``stripe`` package gives each ``/v1`` endpoint.

The table is read from the SDK itself rather than written by hand, so an
endpoint the app starts to call is covered the day it is added: every service
method in the package names its parameter ``TypedDict`` in its signature and
its HTTP method and path in the body, e.g.::

    def create(self, params: Optional["SessionCreateParams"] = None, ...):
        return ... self._request("post", "/v1/checkout/sessions", ...)

The ``TypedDict`` is imported from ``stripe.params`` (13.0 and later) or is a
class nested in the service (``"AccountService.CreateParams"``, before 13.0);
both are resolved in the service module's own namespace.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import stripe

_DEF = re.compile(r"\n    (?:async )?def (\w+)\(")
_PARAMS = re.compile(r'params: (?:Optional\[)?"([\w.]+)"')
_REQUEST = re.compile(r'\._request(?:_async)?\(\s*"(get|post|delete)",\s*"(/v1/[^"]*)"')
_IMPORT = re.compile(r"from (stripe\.params[\w.]*) import \(?\s*(\w+),?\s*\)?")
_PLACEHOLDER = re.compile(r"\{\w+\}")


@dataclass(frozen=True)
class Endpoint:
    method: str  # "GET", "POST", "DELETE"
    template: str  # "/v1/accounts/{account}/login_links"
    service_module: str
    params_name: str  # "AccountLoginLinkCreateParams" or "AccountService.CreateParams"
    pattern: re.Pattern[str]

    def params_class(self) -> Any:
        return _resolve(self.service_module, self.params_name)


def _module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    return ".".join(rel.parts)


def _endpoints_in(path: Path, root: Path) -> list[Endpoint]:
    text = path.read_text(encoding="utf-8")
    module = _module_name(path, root)
    found = []
    chunks = _DEF.split(text)
    # split() alternates [before, name, body, name, body, ...]
    for body in chunks[2::2]:
        params = _PARAMS.search(body)
        request = _REQUEST.search(body)
        if params is None or request is None:
            continue
        method, template = request.group(1).upper(), request.group(2)
        regex = "^" + _PLACEHOLDER.sub("[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        found.append(Endpoint(method, template, module, params.group(1), re.compile(regex)))
    return found


@cache
def endpoints() -> tuple[Endpoint, ...]:
    """Every ``/v1`` endpoint of the installed SDK; literal paths before templated ones."""
    root = Path(stripe.__file__).parent
    found: dict[tuple[str, str], Endpoint] = {}
    for path in sorted(root.rglob("*_service.py")):
        if "v2" in path.relative_to(root).parts:
            continue
        for ep in _endpoints_in(path, root):
            found.setdefault((ep.method, ep.template), ep)
    # "/v1/payment_intents/search" must win over "/v1/payment_intents/{intent}".
    return tuple(sorted(found.values(), key=lambda e: (e.template.count("{"), e.template)))


def endpoint_for(method: str, path: str) -> Endpoint | None:
    method = method.upper()
    return next((e for e in endpoints() if e.method == method and e.pattern.match(path)), None)


@cache
def _imports(service_module: str) -> dict[str, str]:
    spec = importlib.util.find_spec(service_module)
    assert spec is not None and spec.origin is not None
    text = Path(spec.origin).read_text(encoding="utf-8")
    return {name: module for module, name in _IMPORT.findall(text)}


@cache
def _resolve(service_module: str, name: str) -> Any:
    head, _, rest = name.partition(".")
    source = _imports(service_module).get(head)
    obj: Any = importlib.import_module(source or service_module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def pinned_api_version() -> str:
    return str(stripe.api_version)
