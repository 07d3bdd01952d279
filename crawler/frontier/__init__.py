"""Frontier stores behind one interface (:class:`Frontier`)."""

from crawler.frontier.base import Frontier
from crawler.frontier.memory import MemoryFrontier

__all__ = ["Frontier", "MemoryFrontier"]
