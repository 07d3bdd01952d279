"""The version of the crawler and the name it is installed by: one place, read by the package face,
the User-Agent, the WARC info record and every message that says what to install."""

__version__ = "0.1.0"

#: The distribution's name on the package index (the import package and the command stay ``crawler``).
DIST_NAME = "crawlwell"


def install_hint(extra: str) -> str:
    """The command that installs ``extra``: from a clone first (what works today), then from the
    package index."""
    return f"pip install -e '.[{extra}]' in a clone (or pip install '{DIST_NAME}[{extra}]' from the package index)"
