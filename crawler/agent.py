"""The crawler's name as robots.txt groups match it."""

from __future__ import annotations


def product_token(user_agent: str) -> str:
    """The product token matched against ``User-agent:`` lines (``crawler/1.0 (+url)`` ->
    ``crawler``)."""
    token = user_agent.split("/", 1)[0].split(None, 1)
    return token[0] if token else user_agent


__all__ = ["product_token"]
