"""Drift check: the committed Mattermost contract equals a fresh cut of Mattermost's published file.

The only code in this repository that reads a file outside it: the published OpenAPI file, where a
checkout keeps it beside the repository (``../shared/mattermost-api/combined/``) or where
``$JIT_PUBLISHED_OPENAPI`` points. Where neither exists the test is skipped and says which file it
looked for; CI runs it in a checkout that has the file (README, "Tests").
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from sandbox.mattermost.contract import SUBSET_PATH
from sandbox.mattermost.contract.build import build

REPO = Path(__file__).resolve().parents[2]
PUBLISHED_ENV = "JIT_PUBLISHED_OPENAPI"
BESIDE_REPO = REPO.parent / "shared" / "mattermost-api" / "combined" / "mattermost-openapi-v4.published.yaml"


def published_spec() -> Path:
    override = os.environ.get(PUBLISHED_ENV)
    return Path(override) if override else BESIDE_REPO


def test_committed_subset_matches_a_fresh_cut_of_the_published_spec() -> None:
    source = published_spec()
    if not source.is_file():
        pytest.skip(f"published Mattermost OpenAPI file not found: {source} (set ${PUBLISHED_ENV} to check drift)")
    fresh = build(source)
    committed = SUBSET_PATH.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True), fresh.splitlines(keepends=True), "committed", "fresh", n=1
        )
    )
    assert fresh == committed, (
        f"{SUBSET_PATH.name} drifted from {source}; re-run "
        f"python -m sandbox.mattermost.contract.build --from {source}\n{diff[:4000]}"
    )
