"""Loading the spider a crawl runs (``--spider module:Class``), its ``custom_settings`` as a
layer of the settings, and its ``-a NAME=VALUE`` arguments."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any

from crawler.errors import UsageError
from crawler.settings import Settings, load_settings_with_sources
from crawler.spider import Spider, custom_settings


def spider_class(spec: str) -> type[Spider]:
    """The spider class named ``module:Class`` (the current directory and PYTHONPATH are
    searched)."""
    module_name, _, class_name = spec.partition(":")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise UsageError(f"--spider: cannot import {module_name}: {e}") from None
    if not class_name:
        raise UsageError(f"--spider: {spec}: name the class too, as module:Class")
    cls = getattr(module, class_name, None)
    if cls is None:
        found = sorted(n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, Spider)
                       and v is not Spider)
        has = f" (its spiders: {', '.join(found)})" if found else " (it has no crawler.Spider subclass)"
        raise UsageError(f"--spider: {module_name} has no {class_name!r}{has}")
    if not isinstance(cls, type) or not issubclass(cls, Spider):
        raise UsageError(f"--spider: {spec} is not a crawler.Spider subclass")
    return cls


def spider_arguments(settings: Settings) -> dict[str, str]:
    """``-a NAME=VALUE`` arguments as keywords."""
    return dict(argument.partition("=")[::2] for argument in settings.spider_arg)


def make_spider(cls: type[Spider], arguments: dict[str, str]) -> Spider:
    """An instance of ``cls`` given the ``-a`` arguments, as Scrapy makes one: keywords of its
    ``__init__`` (the base class sets each as an attribute)."""
    try:
        return cls(**arguments)
    except TypeError as e:
        if arguments and "argument" in str(e):
            raise UsageError(f"--spider-arg: {cls.__name__} does not take these arguments "
                             f"({', '.join(arguments)}): {e}") from None
        raise


def load_spider(spec: str, arguments: dict[str, str] | None = None) -> Spider:
    """An instance of the spider class named ``module:Class``."""
    return make_spider(spider_class(spec), arguments or {})


def settings_and_sources(args: argparse.Namespace, defaults: dict[str, Any] | None = None
                         ) -> tuple[Settings, dict[str, str], type[Spider] | None]:
    """Settings from parsed options: built-in defaults < ``defaults`` < ``--config`` < the
    spider's ``custom_settings`` < ``CRAWLER_*`` environment variables < options; where each
    came from; the spider's class, when one is named."""
    given = vars(args).copy()
    config_file = given.pop("config", None)
    for key in ("seeds", "urls", "show", "url", "callback", "command", "headers", "expr", "meta", "cb_kwargs", "serve",
                "page", "field", "page_url"):
        given.pop(key, None)
    if defaults:
        given = defaults | given
    settings, sources = load_settings_with_sources(given, config_file=config_file, overrides_source="command line",
                                                   environ=os.environ)
    if not settings.spider:
        return settings, sources, None
    cls = spider_class(settings.spider)
    layer = custom_settings(cls)
    if layer:
        settings, sources = load_settings_with_sources(
            given, config_file=config_file, overrides_source="command line", environ=os.environ, spider=layer,
            spider_source=f"{cls.__name__}.custom_settings")
    return settings, sources, cls
