"""pipeline.memory: freed memory goes back to the OS where the C library can do it, and nothing happens elsewhere."""

from __future__ import annotations

import sys

import pytest

from pipeline import memory


def test_glibc_gives_free_pages_back() -> None:
    memory._malloc_trim.cache_clear()
    expected = sys.platform.startswith("linux") and memory._malloc_trim() is not None
    assert memory.release_free_memory() is expected
    if sys.platform.startswith("linux"):
        import platform

        if platform.libc_ver()[0] == "glibc":
            assert memory.release_free_memory() is True


def test_elsewhere_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    memory._malloc_trim.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    try:
        assert memory._malloc_trim() is None
        assert memory.release_free_memory() is False
    finally:
        memory._malloc_trim.cache_clear()
