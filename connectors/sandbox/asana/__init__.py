"""The asana emulator (Flask) and its demo stage."""
