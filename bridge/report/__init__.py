"""Measure the handoff: delay per lane and week, before/after, the HTML page (issue 15).

``measure`` (pure figures), ``collect`` (store → facts), ``report`` (build, text, JSON),
``page`` (the self-contained HTML page). Sits between ``bridge.app`` and ``bridge.engine`` in
the layer contract (``pyproject.toml``): it reads the store and the config, never a tracker.
"""
