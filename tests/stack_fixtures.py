"""The one embedded local stack of a test process (moto's patches are process-wide).

Use the ``stack`` fixture: it resets every AWS resource before the test and hands back the
running stack with a manual clock (move time with ``stack.advance``) and no retry sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jitlocal.clock import ManualClock
from jitlocal.stack import LocalStack, StackOptions


@pytest.fixture(scope="session")
def session_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state_dir: Path = tmp_path_factory.mktemp("local-stack")
    stack = LocalStack(
        StackOptions(
            moto_port=0,
            api_port=0,
            clock=ManualClock(),
            retry_sleep_factor=0.0,
            reconcile_every_seconds=0,
            state_dir=state_dir,
        )
    ).start()
    yield stack
    stack.stop()


@pytest.fixture
def stack(session_stack: LocalStack) -> LocalStack:
    session_stack.reset()
    return session_stack
