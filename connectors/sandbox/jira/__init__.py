"""The jira emulator (Flask) and its demo stage."""
