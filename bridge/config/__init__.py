"""Configuration: TOML loaded and validated once into typed models (``Config``).

``load_config``/``parse_config`` raise ``bridge.core.errors.ConfigError`` listing every problem
with file, line, dotted key and value; nothing later reads raw dicts.
"""

from bridge.config.load import (
    BUILTIN_TEMPLATES,
    Config,
    Trigger,
    config_json_schema,
    load_config,
    parse_config,
    resolve_secret,
    summarize,
)

__all__ = ["BUILTIN_TEMPLATES", "Config", "Trigger", "config_json_schema", "load_config", "parse_config",
           "resolve_secret", "summarize"]
