"""Configuration: TOML loaded and validated once into typed models (``Config``).

``load_config``/``parse_config`` raise ``bridge.core.errors.ConfigError`` listing every problem
with file, line, dotted key and value; nothing later reads raw dicts. The rule settings types
live in ``rules.spec``, the connector sections in ``connectors.<tool>.settings``.
"""

from bridge.config.load import Config, config_json_schema, load_config, parse_config, summarize
from bridge.config.secrets import resolve_secret
from rules.spec import BUILTIN_TEMPLATES

__all__ = ["BUILTIN_TEMPLATES", "Config", "config_json_schema", "load_config", "parse_config", "resolve_secret",
           "summarize"]
