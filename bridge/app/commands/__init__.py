"""The CLI's read-only commands (status, explain, people) and the demo."""
