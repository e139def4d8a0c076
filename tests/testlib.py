"""Constants shared by test modules (importable by name, unlike conftest.py, of which there are several)."""

# The simulator's token in tests: distinctive, so leak checks can search all output for it.
TOKEN = "sim-Tok3n-6f1d9c2a7e4b"
