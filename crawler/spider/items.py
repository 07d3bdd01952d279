"""Items as written to the output: JSON-ready dicts."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


def item_dict(item: Any) -> dict[str, Any]:
    """An item as a JSON-ready dict: a dict as it is; a dataclass, an attrs class, a pydantic
    model (or anything else itemadapter knows) converted; TypeError for what is no item."""
    if type(item) is dict:
        return item
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.asdict(item)
    if isinstance(item, Mapping):
        return dict(item)
    from itemadapter import ItemAdapter

    if ItemAdapter.is_item(item):
        return dict(ItemAdapter(item).asdict())
    raise TypeError(f"a callback yielded {type(item).__name__}: items are dicts, dataclasses, attrs classes or "
                    "pydantic models (or Requests, to crawl)")


__all__ = ["item_dict"]
