"""zeep, imported as the Lambda layer has it: without httpx.

zeep's ``transports`` module imports httpx whenever it is installed, for its
``AsyncTransport`` only (~30 ms of CPU at a cold start). The adapter uses zeep's
synchronous transport, and the layer does not ship httpx (nothing the runtime needs
depends on it). In a developer's environment, where another tool brought httpx in, it is
hidden for the moment zeep is imported (if nothing imported it before), so zeep loads
as it does in Lambda: without an async transport, which nothing here uses.
"""

from __future__ import annotations

import sys

_hidden = "httpx" not in sys.modules
if _hidden:
    sys.modules["httpx"] = None  # type: ignore[assignment]  # an ImportError for zeep
try:
    import zeep
    import zeep.exceptions
    from zeep.transports import Transport
    from zeep.wsdl import Document
    from zeep.wsse import utils as wsse_utils
    from zeep.wsse.username import UsernameToken
finally:
    if _hidden:
        del sys.modules["httpx"]

__all__ = ["Document", "Transport", "UsernameToken", "wsse_utils", "zeep"]
