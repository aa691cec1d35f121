"""The Jira emulator (state, jql, render and Flask routes, assembled in emulator) and its demo stage."""
