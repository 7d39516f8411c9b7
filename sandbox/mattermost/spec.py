"""The project's Mattermost contract as a request/response checker.

Every REST call the emulator receives is matched to an operation of the contract, the committed cut
of Mattermost's published OpenAPI file (``sandbox/mattermost/contract/openapi-subset.yaml``), and
its parameters and JSON body are validated with Mattermost's own schemas. Known errors in the
published file are patched when it is loaded, each with the reason, instead of switching validation
off. They are patched here rather than in the generator so the committed file stays a faithful,
diffable cut of Mattermost's text and the corrections stay in code beside their reasons.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from openapi_schema_validator import OAS30Validator

from sandbox.mattermost.contract import NOT_EMULATED, SUBSET_PATH


def default_spec_path() -> Path:
    """The committed contract; another file (the published one, for tools) only when passed explicitly."""
    return SUBSET_PATH


def _patch_known_spec_errors(doc: dict[str, Any]) -> None:
    """Work around errors in the published spec, so correct clients are not flagged.

    - UpdatePost and PatchPost declare `props` as `type: string`, but the server (model.Post,
      model.PostPatch: `Props StringInterface`) takes and returns a JSON object, as CreatePost does.
    - The published file's strict-validation errors (undeclared path parameters, a duplicate
      operationId, `default: false` on a string parameter of GET /config) are outside the operations
      kept here; only per-operation schemas are used, never the document-level validator.
    """
    paths = doc["paths"]
    for path, method in (("/api/v4/posts/{post_id}", "put"), ("/api/v4/posts/{post_id}/patch", "put")):
        if method not in paths.get(path, {}):
            continue  # not in this contract: nothing to correct
        schema = paths[path][method]["requestBody"]["content"]["application/json"]["schema"]
        schema["properties"]["props"] = {"type": "object", "description": "patched: spec says string"}


@dataclass(frozen=True)
class Operation:
    path_template: str
    method: str
    operation_id: str
    definition: dict[str, Any]
    path_params: dict[str, str]


@dataclass(frozen=True)
class RouteMiss:
    """No operation: `known_path` tells 405 (path exists, method does not) from 404.

    `not_emulated` names a published operation the contract lists without its definition
    (``x-not-emulated``): the call is Mattermost's, the emulator does not serve it.
    """

    known_path: bool
    not_emulated: str = ""


class OpenApiSpec:
    """Holds the parsed document; matching and validation are read-only after construction."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_spec_path()
        with self.path.open("rb") as handle:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            self._doc: dict[str, Any] = yaml.load(handle, Loader=loader)  # noqa: S506 - safe loader
        _patch_known_spec_errors(self._doc)
        self._templates = [(template, _template_regex(template)) for template in self._doc["paths"]]
        # Literal segments beat templated ones, as in the server's router (`/users/ids` vs `{user_id}`).
        self._templates.sort(key=lambda item: _specificity(item[0]), reverse=True)

    def match(self, method: str, path: str) -> Operation | RouteMiss:
        known = False
        for template, regex in self._templates:
            found = regex.fullmatch(path)
            if not found:
                continue
            known = True
            item = self._doc["paths"][template]
            definition = item.get(method.lower())
            if definition is not None:
                return Operation(
                    template, method.upper(), definition.get("operationId", ""), definition, found.groupdict()
                )
            not_emulated = (item.get(NOT_EMULATED) or {}).get(method.lower())
            if not_emulated is not None:
                return RouteMiss(known_path=True, not_emulated=str(not_emulated))
        return RouteMiss(known_path=known)

    def check_request(self, op: Operation, query: list[tuple[str, str]], body: bytes, content_type: str) -> list[str]:
        """Return human-readable problems; empty means the request follows the spec."""
        problems = self._check_params(op, query)
        body_spec = op.definition.get("requestBody")
        if body_spec is None:
            return problems
        if not body:
            if body_spec.get("required"):
                problems.append("request body is required")
            return problems
        media = body_spec.get("content", {})
        if "application/json" not in media:
            return problems
        if "json" not in content_type:
            problems.append(f"request body must be application/json, got {content_type or 'none'!r}")
            return problems
        try:
            payload = json.loads(body)
        except ValueError:
            return [*problems, "request body is not valid JSON"]
        pointer = _pointer("paths", op.path_template, op.method.lower(), "requestBody", "content")
        problems += self._schema_errors(f"{pointer}/application~1json/schema", payload, "body")
        return problems

    def check_response(self, op: Operation, status: int, payload: Any) -> list[str]:
        response = op.definition.get("responses", {}).get(str(status))
        if response is None:
            return [f"status {status} is not documented for {op.operation_id}"]
        if "application/json" not in response.get("content", {}):
            return []
        pointer = _pointer("paths", op.path_template, op.method.lower(), "responses", str(status), "content")
        return self._schema_errors(f"{pointer}/application~1json/schema", payload, "response")

    def schema_errors(self, schema_name: str, payload: Any) -> list[str]:
        return self._schema_errors(f"#/components/schemas/{schema_name}", payload, schema_name)

    def _check_params(self, op: Operation, query: list[tuple[str, str]]) -> list[str]:
        declared = {(p["in"], p["name"]): p for p in op.definition.get("parameters") or []}
        problems: list[str] = []
        for name, value in op.path_params.items():
            param = declared.get(("path", name))
            if param is None:
                continue  # an undeclared path parameter (a known error of the published file)
            problems += self._param_errors(param, value)
        seen = {name for name, _ in query}
        for name, value in query:
            param = declared.get(("query", name))
            if param is None:
                problems.append(f"query parameter {name!r} is not defined for {op.operation_id}")
                continue
            problems += self._param_errors(param, value)
        for (where, name), param in declared.items():
            if where == "query" and param.get("required") and name not in seen:
                problems.append(f"required query parameter {name!r} missing")
        return problems

    def _param_errors(self, param: dict[str, Any], raw: str) -> list[str]:
        schema = cast("dict[str, Any]", param.get("schema") or {})
        value = _coerce(raw, schema.get("type"))
        if value is None:
            return [f"parameter {param['name']!r}={raw!r} is not a valid {schema.get('type')}"]
        validator = OAS30Validator({**schema, "components": self._doc["components"]})
        return [f"parameter {param['name']!r}: {error.message}" for error in validator.iter_errors(value)]

    def _schema_errors(self, pointer: str, payload: Any, label: str) -> list[str]:
        root = {"$ref": pointer, "components": self._doc["components"], "paths": self._doc["paths"]}
        validator = OAS30Validator(root)
        return [
            f"{label}{''.join(f'[{p!r}]' for p in error.absolute_path)}: {error.message}"
            for error in validator.iter_errors(payload)
        ]

    def raw_document(self) -> dict[str, Any]:
        return copy.deepcopy(self._doc)


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    regex = "".join(f"(?P<{_group(part[1:-1])}>[^/]+)" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(regex)


def _group(name: str) -> str:
    return re.sub(r"\W", "_", name)


def _specificity(template: str) -> tuple[int, ...]:
    return tuple(0 if segment.startswith("{") else 1 for segment in template.split("/"))


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def _coerce(raw: str, kind: object) -> object:
    if kind == "integer":
        return int(raw) if re.fullmatch(r"-?\d+", raw) else None
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            return None
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw)
    return raw
