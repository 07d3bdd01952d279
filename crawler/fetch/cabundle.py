"""The certificates libcurl trusts (``--http-client curl``): one PEM file, as libcurl takes, of
the system's CAs, ``$SSL_CERT_FILE``'s and ``--ca-bundle``'s, the same set the default transport
trusts (:func:`crawler.fetch.attempt.trust`). The system's bundle is used as it is when nothing
is added; else the bundles are joined in a private temporary file, removed at the end."""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

from crawler.fetch.attempt import extra_bundles
from crawler.settings import Settings


def system_bundle() -> str | None:
    """The system's CA bundle file, if it has one (else libcurl's own, curl_cffi's certifi)."""
    paths = ssl.get_default_verify_paths()
    for path in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if path and os.path.isfile(path):
            return path
    return None


class CaBundle:
    """The file to name to libcurl (``path``), made by :meth:`build`."""

    def __init__(self) -> None:
        self.path = ""
        self._made: str | None = None  # the temporary file, when one was made

    def build(self, settings: Settings) -> None:
        """Find or make the bundle (the bundles were checked readable by ``trust``)."""
        from curl_cffi.curl import DEFAULT_CACERT

        system = system_bundle() or DEFAULT_CACERT
        extras = [path for _, path in extra_bundles(settings)]
        if not extras:
            self.path = system
            return
        fd, name = tempfile.mkstemp(prefix="crawler-ca-", suffix=".pem")
        with os.fdopen(fd, "wb") as out:
            for path in [system, *extras]:
                out.write(Path(path).read_bytes().rstrip(b"\n") + b"\n")
        self.path = self._made = name

    def remove(self) -> None:
        """Remove the temporary file, if one was made."""
        if self._made is not None:
            Path(self._made).unlink(missing_ok=True)
            self._made = None


__all__ = ["CaBundle", "system_bundle"]
