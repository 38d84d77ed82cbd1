"""The one ``requests`` session factory the HTTP client uses (re-exported by ``profilesync.http``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from profilesync import __version__

if TYPE_CHECKING:
    from requests.sessions import _Settings  # the stubs' name for what merge_environment_settings returns

USER_AGENT = f"profilesync/{__version__} (+https://github.com/profilesync/profilesync)"


class Session(requests.Session):
    """A session that reads the environment's proxy and certificate settings once per host, not per request.

    requests looks them up again for every request (``merge_environment_settings``: the proxy variables with
    NO_PROXY, REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE), about 0.2 ms each time, on the critical path of a listing's
    pages; the environment does not change while a run goes on. Explicit per-request proxies are not cached.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[Any, ...], _Settings] = {}

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        if proxies or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert, self.trust_env)
        try:
            settings = self._environment.get(key)
        except TypeError:  # an unhashable verify or cert: nothing to cache by
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        if settings is None:
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            self._environment[key] = settings
        # a copy: requests may add to the proxies it is given
        return {"proxies": dict(settings["proxies"]), "stream": settings["stream"], "verify": settings["verify"],
                "cert": settings["cert"]}  # fmt: skip


def make_session(max_in_flight: int = 16) -> requests.Session:
    """One session per target: keep-alive connections shared by every worker thread, no automatic retries.

    The pool holds twice the requests the gate lets in flight (at least 32): uploads and page prefetches run
    beside them, and a request that finds no free connection would open and drop one."""
    session = Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(32, max_in_flight * 2), max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    return session
