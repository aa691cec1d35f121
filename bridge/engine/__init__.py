"""One cycle as named stages (poll, store, evaluate, re-check, plan, deliver) and the evaluator."""

from bridge.engine.cycle import WHOAMI, Engine

__all__ = ["WHOAMI", "Engine"]
