"""The version of the crawler: one place, read by the package face, the User-Agent and the WARC
info record."""

__version__ = "0.1.0"
