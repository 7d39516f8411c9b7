"""The official Mattermost OpenAPI file as a request/response checker.

Every REST call the emulator receives is matched to an operation of the published spec and its
parameters and JSON body are validated with the spec's own schemas. Known errors in the spec are
patched below, each with the reason, instead of switching validation off.
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from openapi_schema_validator import OAS30Validator

SPEC_ENV_VAR = "MM_OPENAPI_SPEC"
_SPEC_RELATIVE = Path("shared/mattermost-api/combined/mattermost-openapi-v4.published.yaml")
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def default_spec_path() -> Path:
    """`<repo>/../shared/...` first (CI clones with shared/ beside it), then $MM_OPENAPI_SPEC."""
    repo = Path(__file__).resolve().parents[2]
    candidates = [repo.parent / _SPEC_RELATIVE]
    env = os.environ.get(SPEC_ENV_VAR)
    if env:
        candidates.append(Path(env))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"Mattermost OpenAPI spec not found (tried {', '.join(map(str, candidates))}); set {SPEC_ENV_VAR}"
    )


def _patch_known_spec_errors(doc: dict[str, Any]) -> None:
    """Work around errors in the published spec, so correct clients are not flagged.

    - UpdatePost and PatchPost declare `props` as `type: string`, but the server (model.Post,
      model.PostPatch: `Props StringInterface`) takes and returns a JSON object, as CreatePost does.
    - The 5 strict-validation errors the README lists (undeclared path parameters, a duplicate
      operationId, `default: false` on a string parameter of GET /config) do not touch any schema
      used here; we never run the document-level validator, only per-operation schemas.
    """
    paths = doc["paths"]
    for path, method in (("/api/v4/posts/{post_id}", "put"), ("/api/v4/posts/{post_id}/patch", "put")):
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
    """No operation: `known_path` tells 405 (path exists, method does not) from 404."""

    known_path: bool


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
            definition = self._doc["paths"][template].get(method.lower())
            if definition is not None:
                return Operation(
                    template, method.upper(), definition.get("operationId", ""), definition, found.groupdict()
                )
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
                continue  # one of the spec's undeclared path parameters (README: strict errors)
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
