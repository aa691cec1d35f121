"""The GitHub emulator and its demo stage.

``state`` (the in-memory world and its mutations), ``render`` (state → GitHub's JSON shapes),
``routes`` (the Flask app: auth, faults, pagination, ETags, rate-limit headers),
``emulator`` (:class:`GitHubEmulator`, the assembly served on loopback), ``stage`` (the
emulator as the demo drives it).
"""
