"""The github emulator (Flask) and its demo stage."""
