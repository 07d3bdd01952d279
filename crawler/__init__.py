"""crawler: a fast, polite, crash-safe asyncio web crawler."""

__version__ = "0.1.0"

from crawler.config import Settings, load_settings
from crawler.engine import Engine
from crawler.stats import Stats

__all__ = ["Engine", "Settings", "Stats", "__version__", "load_settings"]
