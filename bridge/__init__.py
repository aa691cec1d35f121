"""handoff-bridge: catch dropped batons between Jira, Asana and GitHub."""

__version__ = "0.1.0"
