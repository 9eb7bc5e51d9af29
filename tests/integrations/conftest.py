"""Fixtures for the integrations tests: a loopback fake server and a fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.fake_server import FakeOpenAIServer


class FakeClock:
    """A monotonic clock that only moves when told to (by the fake sleep)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, f"asked to sleep a negative time: {seconds}"
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running
