"""Build connectors and the engine from a validated config (one place, used by the daemon,
``once``, ``explain`` and the demo alike)."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from bridge.config import Config
from bridge.engine import Engine
from bridge.core.logs import register_secret
from bridge.store import Store
from connectors.base import factory_for


def build_connectors(config: Config, clock: Callable[[], datetime]) -> dict:
    """Instantiate one connector per ``[connectors.<name>]`` section.

    Tokens are registered for redaction before any client sees them.
    """
    out = {}
    for name, section in config.connectors.items():
        token = section.token.get_secret_value()
        register_secret(token)
        out[name] = factory_for(name).from_config(name, section, token, clock=clock)
    return out


def build_engine(config: Config, store: Store, clock: Callable[[], datetime]) -> Engine:
    """An ``Engine`` over ``store`` with freshly built connectors."""
    return Engine(config, store, build_connectors(config, clock), clock)
