"""Settings read only from the mapping an entry point passes, never from ``os.environ`` on their own.

The bot (``BOT_*``) and the backend (``JIT_*``) both build one settings object in their entry
point from an environment they are handed; tests hand in their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource
from typing_extensions import override


class MappingSettings(BaseSettings):
    """A ``BaseSettings`` whose only source is what the constructor is given."""

    @classmethod
    @override
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @classmethod
    def fields_from(cls, environ: Mapping[str, str]) -> dict[str, Any]:
        """pydantic-settings' environment rules (prefix, case) applied to ``environ``."""
        return _MappingEnvSource(cls, environ)()


class _MappingEnvSource(EnvSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {key if self.case_sensitive else key.lower(): value for key, value in self._environ.items()}
