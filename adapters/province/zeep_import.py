"""zeep, imported with only what the hall's client uses: no httpx, no charset detection.

- zeep's ``transports`` module imports httpx whenever it is installed, for its
  ``AsyncTransport`` only (~30 ms of CPU at a cold start). The adapter uses zeep's
  synchronous transport, and the layer does not ship httpx (nothing the runtime needs
  depends on it). In a developer's environment, where another tool brought httpx in, it
  is hidden while zeep is imported, so zeep loads as it does in Lambda.
- requests (zeep's transport) imports a character-set detector (charset_normalizer, or
  chardet) to guess the encoding of a ``Response.text`` that declares none (~5 ms). The
  hall's client reads bytes only (``Response.content``: zeep parses the XML, which says
  its own encoding), so no guess is ever made; requests documents running without a
  detector (``apparent_encoding`` is then UTF-8) and warns once at import, which is
  silenced here for that reason.
- zeep's ``transports`` also imports ``packaging`` only to compare httpx's version (which
  keyword its ``AsyncTransport`` passes a proxy under; ~2 ms): with httpx hidden there is
  nothing to compare, and zeep runs on without it (it guards that import).

Each library is hidden only while zeep and requests are imported, and only if nothing
imported it before: whoever imports it later gets it as usual.
"""

from __future__ import annotations

import sys
import warnings

_UNUSED = ("httpx", "charset_normalizer", "chardet", "packaging")
_hidden = [name for name in _UNUSED if name not in sys.modules]
for _name in _hidden:
    sys.modules[_name] = None  # type: ignore[assignment]  # an ImportError for its importer
try:
    with warnings.catch_warnings():
        # requests: "Unable to find acceptable character detection dependency"
        warnings.filterwarnings("ignore", message=".*character detection dependency.*")
        import requests  # first here, so it resolves no detector
        import requests.adapters
        import zeep
        import zeep.exceptions
        from zeep.transports import Transport
        from zeep.wsdl import Document
        from zeep.wsse import utils as wsse_utils
        from zeep.wsse.username import UsernameToken
finally:
    for _name in _hidden:
        del sys.modules[_name]

__all__ = ["Document", "Transport", "UsernameToken", "requests", "wsse_utils", "zeep"]
