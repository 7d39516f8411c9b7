"""Where the runbooks are: the checkout's docs/runbooks, or the copy a wheel installs.

The wheel ships docs/runbooks/*.md as data files under ``<prefix>/share/jit-access-mattermost/runbooks``
(pyproject.toml); an editable install or a checkout reads them in place.
"""

from __future__ import annotations

import sys
from pathlib import Path

SHARE = Path("share") / "jit-access-mattermost" / "runbooks"


def default_runbooks_dir(package_file: str = __file__, prefix: str = sys.prefix) -> Path:
    checkout = Path(package_file).resolve().parents[1] / "docs" / "runbooks"
    if checkout.is_dir():
        return checkout
    return Path(prefix) / SHARE
