"""Frontier stores behind one interface (:class:`Frontier`)."""

from crawler.frontier.base import Frontier
from crawler.frontier.memory import HostScheduler, MemoryFrontier
from crawler.frontier.redis import RedisFrontier
from crawler.frontier.sqlite import SQLiteFrontier

__all__ = ["Frontier", "HostScheduler", "MemoryFrontier", "RedisFrontier", "SQLiteFrontier"]
