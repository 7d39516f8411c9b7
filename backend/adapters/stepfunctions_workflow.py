"""Starting the access workflow; the execution name makes a second start a no-op."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

log = logging.getLogger("backend.workflow")


class SfnWorkflow:
    def __init__(self, client: SFNClient, state_machine_arn: str) -> None:
        self._client = client
        self._arn = state_machine_arn

    def start(self, execution_name: str, request_id: str, mode: str) -> None:
        try:
            self._client.start_execution(
                stateMachineArn=self._arn,
                name=execution_name,
                input=json.dumps({"request_id": request_id, "mode": mode}),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                log.info("execution %s already exists", execution_name)
                return
            raise
