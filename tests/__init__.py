"""The tests. The unit tests (tests/unit) load neither aiogram nor the servers; the others
get aiogram's patch before any of them imports aiogram (tests/conftest.py)."""
