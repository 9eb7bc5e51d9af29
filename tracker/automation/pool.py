"""One provider (and so one HTTP connection pool) per integration version, per worker process."""

from __future__ import annotations

import dataclasses
import json
import threading
from typing import Any

import integrations as llm


class ProviderPool:
    """Providers keyed by integration id + version + config; shared by the worker's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._providers: dict[tuple[Any, ...], llm.Provider] = {}

    def get(self, integration: Any, config: llm.ProviderConfig) -> llm.Provider:
        # The config holds a mapping (unhashable); its JSON form identifies it.
        settings = json.dumps(dataclasses.asdict(config), sort_keys=True, default=str)
        key = (integration.id, integration.kind, str(integration.updated_at), settings)
        with self._lock:
            provider = self._providers.get(key)
            if provider is None:
                stale = [k for k in self._providers if k[0] == integration.id]
                for k in stale:  # an edited integration: drop the old client
                    self._providers.pop(k).close()
                provider = llm.create_provider(integration.kind, config)
                self._providers[key] = provider
            return provider

    def close(self) -> None:
        with self._lock:
            for provider in self._providers.values():
                provider.close()
            self._providers.clear()
