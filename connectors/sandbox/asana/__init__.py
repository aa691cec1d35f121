"""The Asana emulator (state, render, routes; assembled in emulator) and its demo stage."""
