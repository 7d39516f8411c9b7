"""Nothing in the code or the tests opens a path outside the repository.

A clone of this repository alone must run both README commands, so no source file may name the
reference folder kept beside some checkouts, an absolute path of a build machine, a ``..`` path
segment, or climb from ``__file__`` above the repository root. The one exception is the drift test,
which compares the committed Mattermost contract with Mattermost's published file when it exists.
CI also runs the suite in a fresh clone with no sibling folders (README, "Tests").
"""

from __future__ import annotations

import ast
import re
from pathlib import Path, PurePosixPath

import pytest

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("bot", "backend", "jitwire", "jitadmin", "jitlocal", "alarms", "sandbox", "infra", "bench", "tests")
ALLOWED = {PurePosixPath("tests/emulator/test_contract_drift.py")}  # the drift check, and only it

REFERENCE_FOLDER = re.compile(r"\b" + "shared" + r"/")  # split so this file does not name it
BUILD_MACHINE = re.compile("/" + r"work/")
PARENT_SEGMENT = re.compile(r"(?:^|[/\\])\.\.(?:[/\\]|$)")


def escapes(source: str, where: PurePosixPath) -> list[str]:
    """Every way ``source`` (the file at ``where``, relative to the repository) reaches outside it."""
    found = [
        f"{where}:{number}: {why}"
        for number, line in enumerate(source.splitlines(), 1)
        for pattern, why in ((REFERENCE_FOLDER, "names the reference folder"), (BUILD_MACHINE, "absolute build path"))
        if pattern.search(line)
    ]
    tree = ast.parse(source)
    depth = len(where.parent.parts)  # directories between the repository root and this file
    climb = _Climb(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and PARENT_SEGMENT.search(node.value):
            found.append(f"{where}:{node.lineno}: '..' path segment")
        elif isinstance(node, ast.Attribute) and node.attr == "pardir":
            found.append(f"{where}:{node.lineno}: os.pardir")
        elif isinstance(node, ast.expr) and (up := climb.levels(node)) is not None and up > depth + 1:
            found.append(f"{where}:{node.lineno}: climbs {up - 1 - depth} above the repository root")
    return sorted(set(found))


class _Climb:
    """How many levels above the file itself an expression built from ``__file__`` points.

    ``Path(__file__)`` is 0, its ``.parent`` 1 (the file's directory), ``.parents[k]`` k + 1;
    ``os.path.dirname`` adds one. Names assigned such an expression carry its level.
    """

    def __init__(self, tree: ast.AST) -> None:
        self.names: dict[str, int] = {}
        assignments = [node for node in ast.walk(tree) if isinstance(node, ast.Assign | ast.AnnAssign)]
        for _ in range(3):  # names built from other names
            for node in assignments:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = node.value
                if value is None:
                    continue
                level = self.levels(value)
                for target in targets:
                    if isinstance(target, ast.Name) and level is not None:
                        self.names[target.id] = level

    def levels(self, node: ast.expr) -> int | None:
        if isinstance(node, ast.Name):
            return 0 if node.id == "__file__" else self.names.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.levels(node.value)
            return None if base is None else base + 1 if node.attr == "parent" else None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "parents":
            base = self.levels(node.value.value)
            index = node.slice
            if base is not None and isinstance(index, ast.Constant) and isinstance(index.value, int):
                return base + index.value + 1
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return self.levels(node.left)  # `root / "x"` stays as high as root for this purpose
        if isinstance(node, ast.Call):
            return self._call_levels(node)
        return None

    def _call_levels(self, node: ast.Call) -> int | None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in {"resolve", "absolute"} and isinstance(func, ast.Attribute):
            return self.levels(func.value)
        if name in {"Path", "PurePath", "PurePosixPath", "abspath", "realpath", "normpath"} and node.args:
            return self.levels(node.args[0])
        if name == "dirname" and node.args:
            base = self.levels(node.args[0])
            return None if base is None else base + 1
        return None


def sources() -> list[Path]:
    return sorted(path for top in SCANNED for path in (REPO / top).rglob("*.py") if ".venv" not in path.parts)


def test_no_source_reaches_outside_the_repository() -> None:
    found = [
        problem
        for path in sources()
        if (where := PurePosixPath(path.relative_to(REPO).as_posix())) not in ALLOWED
        for problem in escapes(path.read_text(encoding="utf-8"), where)
    ]
    assert found == []


def test_the_scan_covers_the_drift_test_and_every_top_level_folder() -> None:
    scanned = {PurePosixPath(p.relative_to(REPO).as_posix()) for p in sources()}
    assert scanned >= ALLOWED
    assert {where.parts[0] for where in scanned} == set(SCANNED)
    drift = (REPO / next(iter(ALLOWED))).read_text(encoding="utf-8")
    assert escapes(drift, next(iter(ALLOWED))) != []  # the exception is real, and the scan sees it


SPEC_LOADER_BEFORE_ISSUE_8 = """
_SPEC_RELATIVE = Path("{folder}mattermost-api/combined/mattermost-openapi-v4.published.yaml")

def default_spec_path() -> Path:
    repo = Path(__file__).resolve().parents[2]
    candidates = [repo.parent / _SPEC_RELATIVE]
    return candidates[0]
""".format(folder="sha" + "red/")


@pytest.mark.parametrize(
    ("snippet", "where", "expected"),
    [
        (SPEC_LOADER_BEFORE_ISSUE_8, "sandbox/mattermost/spec.py", ["names the reference folder", "climbs 1 above"]),
        ("ROOT = Path(__file__).resolve().parents[2]\nX = ROOT / 'config'", "sandbox/mattermost/seed.py", []),
        ("X = Path(__file__).resolve().parents[3] / 'y'", "sandbox/mattermost/seed.py", ["climbs 1 above"]),
        ("X = Path(__file__).parent.parent.parent", "tests/alarms/x.py", []),
        ("X = Path(__file__).parent.parent.parent.parent", "tests/alarms/x.py", ["climbs 1 above"]),
        ("import os\nX = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))", "bench/x.py", []),
        ("import os\nX = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))", "bench/x.py", ["climbs 1"]),
        ("X = Path('config') / '..' / 'y'", "bot/x.py", ["'..' path segment"]),
        ("import os\nX = os.path.join(os.pardir, 'y')", "bot/x.py", ["os.pardir"]),
        ("X = open('../y')", "bot/x.py", ["'..' path segment"]),
        ("X = '" + "/" + "work/x'", "bot/x.py", ["absolute build path"]),
        ("REQUEST = 'status ../etc is not a request id'", "tests/bot/x.py", []),
    ],
)
def test_escapes_finds_each_way_out(snippet: str, where: str, expected: list[str]) -> None:
    found = escapes(snippet, PurePosixPath(where))
    assert len(found) == len(expected), found
    for problem, why in zip(found, expected, strict=True):
        assert why in problem
