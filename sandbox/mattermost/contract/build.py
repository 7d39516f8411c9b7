"""Cut the committed Mattermost contract from Mattermost's published OpenAPI file.

    python -m sandbox.mattermost.contract.build --from mattermost-openapi-v4.published.yaml

The operations kept are the ones the emulator serves: the operationIds of its handler registry
(``sandbox.mattermost.rest.HANDLERS``), so adding a handler and re-running this picks it up. For
each, the operation object is copied as published, with every component it references, directly or
through other components. The other methods of a kept path, and the paths that would win the router
over a kept template (``/users/stats`` beats ``/users/{user_id}``), are listed by operationId only
under ``x-not-emulated``, so a URL is routed exactly as with the whole published file and a call to
an operation the emulator does not serve is refused as such, not handed to the wrong handler.

Nothing is edited on the way: the known errors of the published file are corrected when the file is
loaded (``sandbox.mattermost.spec``), next to their reasons, so this file can be compared with
Mattermost's line for line. The output is deterministic (keys sorted), which the drift test relies on.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from sandbox.mattermost.contract import NOT_EMULATED, SUBSET_PATH

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

HEADER = """\
# Mattermost REST API v4: the part this project uses, cut from Mattermost's published OpenAPI file
# (mattermost/mattermost-developer-documentation, site/static/mattermost-openapi-v4.yaml).
# Generated; do not edit. Regenerate with:
#   python -m sandbox.mattermost.contract.build --from <published mattermost-openapi-v4.yaml>
# Operations: those the emulator serves (sandbox/mattermost/rest.py HANDLERS). x-not-emulated lists
# the published operations it does not serve on these paths (and on paths that would win the router
# over a kept one), by operationId only, so URLs are routed as with the whole published file.
# See docs/architecture.md, "The Mattermost contract".
"""


def emulated_operation_ids() -> set[str]:
    """Every operationId the emulator has a handler for."""
    from sandbox.mattermost.rest import HANDLERS

    return set(HANDLERS)


def cut(published: dict[str, Any], operation_ids: Iterable[str]) -> dict[str, Any]:
    """The self-contained subset of ``published`` holding exactly ``operation_ids``."""
    wanted = set(operation_ids)
    paths: dict[str, dict[str, Any]] = {}
    found: set[str] = set()
    for template, item in published["paths"].items():
        kept = {method: op for method, op in _operations(item) if op.get("operationId") in wanted}
        if not kept:
            continue
        shared = {key: value for key, value in item.items() if key not in METHODS}
        paths[template] = copy.deepcopy(shared | kept) | _not_emulated(item, kept)
        found.update(op["operationId"] for op in kept.values())
    missing = wanted - found
    if missing:
        raise ValueError(f"operations not in the published spec: {', '.join(sorted(missing))}")
    for template, item in published["paths"].items():
        if template not in paths and any(_shadows(template, kept) for kept in list(paths)):
            paths[template] = _not_emulated(item, {})
    subset: dict[str, Any] = {
        key: copy.deepcopy(published[key])
        for key in ("openapi", "info", "servers", "security", "externalDocs")
        if key in published
    }
    used_tags = {tag for item in paths.values() for _, op in _operations(item) for tag in op.get("tags", [])}
    subset["tags"] = [copy.deepcopy(tag) for tag in published.get("tags", []) if tag.get("name") in used_tags]
    subset["paths"] = paths
    subset["components"] = _components(published, paths, subset.get("security", []))
    return subset


def render(subset: dict[str, Any]) -> str:
    """YAML text with sorted keys and block scalars for prose, identical for identical input."""
    body = yaml.dump(subset, Dumper=_Dumper, sort_keys=True, allow_unicode=True, width=100, default_flow_style=False)
    return HEADER + body


def build(published_path: Path) -> str:
    return render(cut(load_yaml(published_path), emulated_operation_ids()))


def load_yaml(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        loaded: dict[str, Any] = yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader
        return loaded


def _operations(item: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for method in METHODS:
        if isinstance(item.get(method), dict):
            yield method, item[method]


def _not_emulated(item: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]:
    """The path's other methods, by operationId only: the emulator refuses them as not emulated."""
    others = {method: str(op.get("operationId", "")) for method, op in _operations(item) if method not in kept}
    return {NOT_EMULATED: others} if others else {}


def _components(published: dict[str, Any], paths: dict[str, Any], security: list[dict[str, Any]]) -> dict[str, Any]:
    """Every component the kept paths reference, followed through other components."""
    available = published.get("components", {})
    chosen: dict[str, dict[str, Any]] = {}
    pending = list(_refs(paths))
    while pending:
        section, name = pending.pop()
        if name in chosen.get(section, {}):
            continue
        try:
            component = available[section][name]
        except KeyError:
            raise ValueError(f"unresolved reference #/components/{section}/{name}") from None
        chosen.setdefault(section, {})[name] = copy.deepcopy(component)
        pending.extend(_refs(component))
    requirements = [
        *security,
        *(req for item in paths.values() for _, op in _operations(item) for req in op.get("security", [])),
    ]
    for requirement in requirements:
        for scheme in requirement:
            chosen.setdefault("securitySchemes", {})[scheme] = copy.deepcopy(available["securitySchemes"][scheme])
    return chosen


_REF = re.compile(r"#/components/([^/]+)/([^/]+)")


def _refs(node: Any) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found = _REF.match(value)
                if found is None:
                    raise ValueError(f"reference outside #/components: {value}")
                yield found.group(1), found.group(2).replace("~1", "/").replace("~0", "~")
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _shadows(other: str, kept: str) -> bool:
    """Would the server route some URL of ``kept`` to ``other`` instead (a literal beats a template)?"""
    a, b = other.split("/"), kept.split("/")
    if len(a) != len(b) or _specificity(a) <= _specificity(b):
        return False
    return all(_segments_overlap(x, y) for x, y in zip(a, b, strict=True))


def _specificity(segments: list[str]) -> tuple[int, ...]:
    return tuple(0 if "{" in segment else 1 for segment in segments)


def _segments_overlap(x: str, y: str) -> bool:
    if "{" not in x and "{" not in y:
        return x == y
    if "{" in x and "{" in y:
        return True  # two templated segments: assume some value fits both
    literal, template = (x, y) if "{" not in x else (y, x)
    pattern = "".join(
        "[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]+\})", template)
    )
    return re.fullmatch(pattern, literal) is not None


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002 - PyYAML signature
        return True  # every component is written out where it is; anchors would depend on dict identity


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.mattermost.contract.build", description=__doc__)
    parser.add_argument("--from", dest="source", type=Path, required=True, help="Mattermost's published OpenAPI YAML")
    parser.add_argument("--out", type=Path, default=SUBSET_PATH, help=f"where to write (default {SUBSET_PATH.name})")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if --out differs")
    args = parser.parse_args(argv)
    text = build(args.source)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is out of date; re-run without --check", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    operations = sum(1 for item in yaml.safe_load(text)["paths"].values() for _ in _operations(item))
    print(f"wrote {args.out} ({operations} operations)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
