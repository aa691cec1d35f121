"""The process: CLI, daemon, systemd notifications, logging setup, wiring and the commands."""
