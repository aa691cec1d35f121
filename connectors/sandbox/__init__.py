"""The emulators of GitHub, Jira and Asana and the demo stages that drive them (extra ``demo``).

Product code never imports this package; it depends on nothing of ours but ``bridge.core.clock``.
"""
