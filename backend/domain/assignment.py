"""The identity of one Identity Center account assignment (always a USER principal here)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AssignmentTarget(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    principal_id: str
    account_id: str
    permission_set_arn: str

    @property
    def ledger_key(self) -> str:
        """Key of the overlapping-grant ledger item: principal#account#permission set."""
        return f"{self.principal_id}#{self.account_id}#{self.permission_set_arn}"
