"""The public API for writing spiders: :class:`Spider`, :class:`Request` (and
:class:`FormRequest`), :class:`Response` (its :class:`Selector` matches), :class:`Failure`,
:class:`DropItem`, and the rules of a :class:`CrawlSpider` (:class:`Rule`,
:class:`LinkExtractor`).

A spider names where to start and what to do with each response; its callbacks yield items
(dicts or dataclasses), which are written to the output as they come, and :class:`Request`
objects, which are crawled under the same scope, politeness and dedupe as links. Plain
callbacks run in the parse thread pool; ``async def`` callbacks run on the event loop.
"""

from crawler.parse.extract import extraction_fields
from crawler.parse.html import HTML_TYPES
from crawler.request import FormRequest, Request
from crawler.spider.base import (
    AsyncCallbackOutput,
    CallbackOutput,
    DropItem,
    Failure,
    Spider,
    check_callbacks,
    check_method,
    custom_settings,
    has_start,
)
from crawler.spider.items import item_dict
from crawler.spider.response import FollowAll, Response
from crawler.spider.rules import CrawlSpider, LinkExtractor, Rule
from crawler.spider.selectors import Selector, SelectorError, SelectorList

__all__ = [
    "HTML_TYPES", "AsyncCallbackOutput", "CallbackOutput", "CrawlSpider", "DropItem", "Failure", "FollowAll",
    "FormRequest", "LinkExtractor", "Request", "Response", "Rule", "Selector", "SelectorError", "SelectorList",
    "Spider", "check_callbacks", "check_method", "custom_settings", "extraction_fields", "has_start", "item_dict",
]
