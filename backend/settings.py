"""One typed settings object per backend process, built in its entry point."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field


class BackendSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str = Field(min_length=1)
    audience: str = Field(min_length=1, description="deployment name signed into every request")
    keyset_secret_id: str
    state_machine_arn: str
    events_topic_arn: str
    identity_center_instance_arn: str
    identity_store_id: str
    endpoint_url: str | None = None  # the local stack's moto server; None in AWS
    ic_calls_per_second: float = Field(default=10.0, gt=0, le=20)
    metrics: str = Field(default="emf", pattern=r"^(emf|cloudwatch)$")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BackendSettings:
        """Variables are ``JIT_<FIELD>`` in upper case; AWS_REGION is the Lambda default."""
        values: dict[str, str] = {}
        for name in cls.model_fields:
            key = f"JIT_{name.upper()}"
            if key in env:
                values[name] = env[key]
        values.setdefault("region", env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "")))
        return cls.model_validate(values)
