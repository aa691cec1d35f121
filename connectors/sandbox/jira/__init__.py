"""The Jira emulator (state, jql, render, routes; assembled in emulator) and its demo stage."""
