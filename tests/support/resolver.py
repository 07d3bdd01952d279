"""A stub resolver for the tests: names answered from a table, every one pointing at a test
server on loopback, so nothing resolves a real name or connects anywhere else."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from crawler.fetch import guard


class StubResolver(AbstractResolver):
    """Answers from a table of names (each a list of addresses, one list per call in turn)."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        self.asked.append(host)
        answers = self.table.get(host)
        if not answers:
            raise OSError(f"stub resolver: no such host {host}")
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        return [{"hostname": host, "host": a, "port": port, "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST} for a in addresses]

    async def close(self) -> None:
        pass


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[list[str]]]:
    """The stub resolver's table: tests add names to it."""
    table: dict[str, list[list[str]]] = {}
    monkeypatch.setattr(guard, "base_resolver", lambda: StubResolver(table))
    return table
