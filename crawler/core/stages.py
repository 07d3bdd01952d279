"""The stages of one run, built once by the engine and handed to the fetch workers whole."""

from __future__ import annotations

import dataclasses

from crawler.core.accept import Acceptor
from crawler.core.handle import Handler
from crawler.core.rendering import Rendering
from crawler.core.scope import Scope
from crawler.core.state import RunState
from crawler.durable.changes import Tracker
from crawler.durable.recrawl import Remembered
from crawler.fetch.client import Fetcher
from crawler.fetch.politeness import Politeness
from crawler.fetch.robots import Robots
from crawler.frontier import Frontier
from crawler.settings import Settings
from crawler.spider import Spider
from crawler.spider.runner import SpiderRunner
from crawler.work import OutputQueue


@dataclasses.dataclass(frozen=True, slots=True)
class Stages:
    """What a fetch worker works with: the run's settings and counts, where URLs wait and go in,
    how they are fetched (robots.txt, politeness, rendering), handled (the spider) and where their
    records go."""

    settings: Settings
    state: RunState
    frontier: Frontier
    scope: Scope
    fetcher: Fetcher
    robots: Robots | None  # robots.txt on
    politeness: Politeness
    acceptor: Acceptor
    handler: Handler
    runner: SpiderRunner
    spider: Spider
    output: OutputQueue
    captures: bool  # does the output want each HTTP exchange (WARC)?
    validators: Remembered  # a durable crawl's page validators, until committed
    rendering: Rendering  # --render: pages rendered in the browser, in their host's slot
    tracker: Tracker | None  # a durable job's change tracking: every page goes to the handler to be judged


__all__ = ["Stages"]
