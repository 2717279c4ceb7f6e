"""The reference Python stack's nine Gmail tools, pointed at a fake Gmail with a static token.

Shared by the bench drivers in this directory (see host/benches/reference.rs). It builds the
stack the reference's own examples wire up for Gmail (mcs-python-sdk.md §2 and §5.1):

    AuthDecorator(MailToolDriver(read_adapter="gmail", send_adapter="gmail",
                                 read_kwargs={"_credential": ..., "_http": ...},
                                 send_kwargs={"_credential": ..., "_http": ...}))

and calls ``execute_tool(name, arguments)`` on it, which is what the reference's driver,
orchestrator and skill script call for a tool.

Configuration, the same environment variables ``mcs`` reads:

- ``MCS_GMAIL_BASE_URL``: where the Gmail API is, e.g. ``http://127.0.0.1:41234``. The
  reference has no setting for this: both Gmail connectors prefix every path with the module
  constant ``_BASE = "https://gmail.googleapis.com/gmail/v1/users/me"``. We use the hook the
  connectors do offer, their ``_http`` constructor argument (any object with the ``HttpPort``
  ``request()`` method): ``RebasedHttpAdapter`` below is the reference's own ``HttpAdapter``
  with the ``https://gmail.googleapis.com`` prefix swapped for the base URL before it calls
  ``HttpAdapter.request`` unchanged, so the transport (``requests.request``, a new session and
  connection per request) is the reference's own.
- ``MCS_TOKEN_GMAIL``: the bearer token. The reference's ``StaticProvider`` reads exactly this
  variable when its dict has no entry for the scope (``MCS_TOKEN_<SCOPE>``), so it is given an
  empty dict and finds the token in the environment, as ``mcs`` does.
"""

from __future__ import annotations

import os
from typing import Any

from mcs.adapter.http import HttpAdapter, HttpResponse
from mcs.auth.decorator import AuthDecorator
from mcs.auth.static import StaticProvider
from mcs.driver.mail import MailToolDriver

#: The origin the reference's Gmail connectors hard-code (``_BASE`` in
#: ``mcs/driver/mailread/gmail_connector.py`` and ``mcs/driver/mailsend/gmail_connector.py``).
GMAIL_ORIGIN = "https://gmail.googleapis.com"

#: The connectors' own default timeout: without ``_http`` they build ``HttpAdapter(timeout=30)``.
CONNECTOR_TIMEOUT_SECONDS = 30


class RebasedHttpAdapter(HttpAdapter):
    """The reference's ``HttpAdapter``, sending Gmail requests to another base URL."""

    def __init__(self, base_url: str) -> None:
        super().__init__(timeout=CONNECTOR_TIMEOUT_SECONDS)
        self._base = base_url.rstrip("/")

    def request(self, method: str, url: str, **kwargs: Any) -> HttpResponse:
        if url.startswith(GMAIL_ORIGIN):
            url = self._base + url[len(GMAIL_ORIGIN) :]
        return super().request(method, url, **kwargs)


def base_url() -> str:
    """``MCS_GMAIL_BASE_URL``, which the bench always sets."""
    try:
        return os.environ["MCS_GMAIL_BASE_URL"]
    except KeyError:
        raise SystemExit("MCS_GMAIL_BASE_URL is not set (e.g. http://127.0.0.1:41234)") from None


def tool_driver(gmail_base_url: str | None = None) -> AuthDecorator:
    """The reference's Gmail tool driver, talking to ``gmail_base_url`` (default: the env)."""
    http = RebasedHttpAdapter(gmail_base_url or base_url())
    credential = StaticProvider({})
    kwargs = {"_credential": credential, "_http": http}
    return AuthDecorator(
        MailToolDriver(
            read_adapter="gmail",
            send_adapter="gmail",
            read_kwargs=kwargs,
            send_kwargs=kwargs,
        )
    )
