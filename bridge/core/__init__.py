"""The lowest layer: the model, the error tree, clocks, business time, people, logging helpers.

Imports nothing else of ours; every other room (``rules``, ``connectors``, ``bridge.store`` and up)
may import it.
"""
