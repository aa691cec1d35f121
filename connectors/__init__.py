"""One package per tool: polling and mapping to events, write-back, and a local emulator."""
