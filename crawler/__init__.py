"""crawler: a fast, polite, crash-safe asyncio web crawler."""

__version__ = "0.1.0"

from crawler.config import Settings, load_settings  # noqa: E402
from crawler.engine import Engine  # noqa: E402
from crawler.stats import Stats  # noqa: E402

__all__ = ["Engine", "Settings", "Stats", "__version__", "load_settings"]
