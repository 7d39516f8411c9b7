"""One typed settings object per backend process, built in its entry point.

pydantic-settings maps ``JIT_<FIELD>`` variables to fields, but only from the mapping the entry point
passes to ``BackendSettings.from_env``: constructing the class reads nothing from ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from jitwire.mapping_settings import MappingSettings

ENV_PREFIX = "JIT_"


class BackendSettings(MappingSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

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
        ours = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX) and k == k.upper()}
        values: dict[str, Any] = cls.fields_from(ours)
        values.setdefault("region", env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "")))
        return cls.model_validate(values)
