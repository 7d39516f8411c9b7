"""Typed confirmation for destructive commands: the operator types the exact scope, or scripts pass
``--yes --confirm <the same text>`` so a copied command cannot act on something else."""

from __future__ import annotations

from collections.abc import Callable


class ConfirmationRefused(Exception):
    """Nothing was done."""


def confirm(expected: str, *, yes: bool, confirm_text: str | None, prompt: Callable[[str], str]) -> None:
    if yes:
        if confirm_text != expected:
            raise ConfirmationRefused(f"--yes needs --confirm {expected!r} (exactly); nothing was done")
        return
    if confirm_text is not None:
        raise ConfirmationRefused("--confirm is only read together with --yes; nothing was done")
    try:
        typed = prompt(f"Type {expected!r} to go ahead: ")
    except EOFError:
        typed = ""
    if typed.strip() != expected:
        raise ConfirmationRefused("the confirmation did not match; nothing was done")
