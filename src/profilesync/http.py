"""HTTP plumbing shared by the targets: one session, timeouts, throttle-aware concurrency (through the
adaptive gate of ``rategate``), safe retries, status-to-exception mapping in one place, pagination and redaction.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    nap,
    retry_if_exception_type,
    retry_if_result,
    retry_never,
    stop_after_attempt,
)

from profilesync import __version__
from profilesync.errors import (
    FatalRemoteError,
    NotFoundError,
    PermissionDeniedError,
    RemoteError,
    TransientError,
)
from profilesync.rategate import RateGate

log = logging.getLogger(__name__)

USER_AGENT = f"profilesync/{__version__} (+https://github.com/profilesync/profilesync)"
CONNECT_TIMEOUT_S = 10.0
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
SECRET_QUERY_KEYS = frozenset({"access_token", "api_key", "token", "policy", "signature", "x-amz-signature"})


def make_session(pool_size: int = 32) -> requests.Session:
    """One session per target: keep-alive connections shared by every worker thread, no automatic retries."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    return session


def redact_url(url: str) -> str:
    """A URL safe to log: secret-looking query values hidden."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = "&".join(
        f"{k}=<hidden>" if k.lower().rstrip("[]") in SECRET_QUERY_KEYS else f"{k}={v}"
        for k, v in (p.split("=", 1) if "=" in p else (p, "") for p in parts.query.split("&"))
    )
    return urlunsplit(parts._replace(query=query))


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, for deciding whether a request may carry the token."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


@dataclass(frozen=True)
class Retry:
    """How often to retry transient failures (5xx, dropped connections, timeouts) of safe requests."""

    attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    max_throttle_wait_s: float = 600.0  # give up on a user only after this long of continuous throttling

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay_s, self.base_delay_s * 2**attempt) * random.uniform(0.8, 1.2))


CONNECTION_FAILURES = (requests.ConnectionError, requests.Timeout)


def _server_error(response: requests.Response) -> bool:
    return response.status_code >= 500


def _last_outcome(state: RetryCallState) -> Any:
    """When the retries run out: the last answer (a 5xx, for the caller's check), or its failure raised."""
    assert state.outcome is not None  # tenacity calls this only after a try
    return state.outcome.result()


def is_throttled(response: requests.Response) -> bool:
    """Canvas throttling: 429 (hosted, since 2025) or 403 with a text body (canvas-api.md §4.3)."""
    if response.status_code == 429:
        return True
    return response.status_code == 403 and "rate limit exceeded" in response.text[:200].lower()


def remaining_of(response: requests.Response) -> float | None:
    value = response.headers.get("X-Rate-Limit-Remaining")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def parse_json(response: requests.Response) -> Any:
    """The JSON body whatever the Content-Type says (multipart answers come as text/html, §1.4),
    tolerating Canvas's ``while(1);`` CSRF prefix."""
    # JSON is UTF-8 (RFC 8259); response.text would decode a charset-less text/html answer as Latin-1.
    text = response.content.decode("utf-8")
    if text.startswith("while(1);"):
        text = text[len("while(1);") :]
    return json.loads(text) if text.strip() else None


def error_message(response: requests.Response) -> str:
    """The human part of a Canvas error body, in any of its shapes (§2, §12)."""
    try:
        body = parse_json(response)
    except ValueError:
        snippet = re.sub(r"\s+", " ", response.text[:200]).strip()
        return snippet or response.reason or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return str(body["message"])
        errors = body.get("errors")
        if isinstance(errors, str):
            return errors
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return "; ".join(str(e.get("message", e)) for e in errors)
        if isinstance(errors, dict):
            return _flatten_errors(errors) or str(errors)
    return f"HTTP {response.status_code}"


def _flatten_errors(errors: Mapping[str, Any], prefix: str = "") -> str:
    found: list[str] = []
    for key, value in errors.items():
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and "message" in item:
                    found.append(f"{prefix}{key}: {item['message']}")
        elif isinstance(value, dict):
            nested = _flatten_errors(value, f"{prefix}{key}.")
            if nested:
                found.append(nested)
    return "; ".join(found)


def looks_like_html(response: requests.Response) -> bool:
    return response.text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))


# The Canvas invalid-token messages (§2) — any of them makes every later request pointless.
BAD_TOKEN = re.compile(r"(invalid|revoked|expired) access token|insufficient scopes", re.IGNORECASE)


def raise_for_status(response: requests.Response, what: str) -> None:
    """Map a non-2xx answer to the project's exceptions. The one place status codes become meaning."""
    status = response.status_code
    if status < 300:
        return
    if status < 400:
        # An API answers token requests directly; a redirect means the base URL is not the API's own address
        # (http -> https, an old or vanity domain). Reading its empty body as "no data" would be wrong.
        location = redact_url(response.headers.get("Location", "")) or "an unnamed location"
        raise FatalRemoteError(
            f"{what}: the server redirected the request ({status}) to {location}",
            advice="set the base URL (CANVAS_BASE_URL or GURU_BASE_URL) to the address it redirects to",
        )
    message = error_message(response)
    if status == 401 and BAD_TOKEN.search(message):
        raise FatalRemoteError(
            f"Canvas rejected the API token: {message}",
            advice="create a new token (Account > Settings > New Access Token) and set CANVAS_API_TOKEN",
        )
    if status in (401, 403):
        raise PermissionDeniedError(f"{what}: not permitted ({message})", status=status)
    if status == 404:
        raise NotFoundError(f"{what}: not found", status=status)
    if status >= 500:
        raise TransientError(f"{what}: server error {status} ({message})", status=status)
    raise RemoteError(f"{what}: {message}", status=status)


class Api:
    """A JSON API on one base URL, authenticated with a bearer token that never leaves that origin."""

    def __init__(
        self,
        base_url: str,
        auth_header: Callable[[], str],
        *,
        session: requests.Session | None = None,
        gate: RateGate | None = None,
        retry: Retry | None = None,
        timeout_s: float = 60.0,
        name: str = "Canvas",
        check: Callable[[requests.Response, str], None] = raise_for_status,
        advice: str | None = None,
        sleep: Callable[[float], None] = nap.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.check = check  # the vendor's status → exception mapping
        self.advice = advice or f"check that {self.base_url} is your {name} address"
        self._auth_header = auth_header
        self._origin = origin(self.base_url)
        self.session = session or make_session()
        self.gate = gate or RateGate(16)
        self.retry = retry or Retry()
        self._sleep = sleep  # the backoff between retries (tenacity's default looks time.sleep up at each call)
        self.timeout = (CONNECT_TIMEOUT_S, timeout_s)
        self.name = name
        self.requests_made = 0  # every request sent to the API host (what Canvas charges for)
        self._count_lock = threading.Lock()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def same_origin(self, url: str) -> bool:
        return origin(url) == self._origin

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        data: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json_body: Any = None,
        files: Any = None,
        retry_unsafe: bool = False,
    ) -> requests.Response:
        """Send one API request with the token, through the rate gate, retrying what is safe to retry.

        Throttled answers are always retried (the server did not run the request). 5xx answers and
        connection failures are retried for idempotent methods, or when the caller says the POST is
        harmless to repeat (``retry_unsafe``).
        """
        url = self.url(path)
        if not self.same_origin(url):
            raise ValueError(f"refusing to send the {self.name} token to another host: {redact_url(url)}")
        safe = method in IDEMPOTENT or retry_unsafe
        throttled_since: float | None = None  # across the retries: the throttle wait is bounded for the request

        def send() -> requests.Response:
            # Hand-written: a throttled answer is retried for as long as max_throttle_wait_s allows, after the
            # gate's pause, and never uses up an attempt; tenacity counts every try of what it wraps.
            nonlocal throttled_since
            while True:
                response, pause = self._send(method, url, params, data, json_body, files)
                if pause is None:
                    return response
                throttled_since = throttled_since or time.monotonic()
                if time.monotonic() - throttled_since > self.retry.max_throttle_wait_s:
                    raise TransientError(f"{what}: {self.name} kept throttling for too long")
                log.debug("%s throttled the request; pausing %.1fs", self.name, pause)

        def log_retry(state: RetryCallState) -> None:
            delay = state.next_action.sleep if state.next_action else 0.0
            failure = state.outcome.exception() if state.outcome else None
            if failure is not None:
                log.debug("%s %s failed (%s); retry in %.1fs", method, redact_url(url), type(failure).__name__, delay)
            elif state.outcome is not None:
                status = state.outcome.result().status_code
                log.debug("%s %s answered %s; retry in %.1fs", method, redact_url(url), status, delay)

        retryable = retry_if_exception_type(CONNECTION_FAILURES) | retry_if_result(_server_error)
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts + 1),  # the first try and `attempts` retries
            wait=lambda state: self.retry.delay(state.attempt_number - 1),
            retry=retryable if safe else retry_never,
            sleep=self._sleep,
            before_sleep=log_retry,
            retry_error_callback=_last_outcome,
        )
        try:
            response: requests.Response = retrying(send)
        except CONNECTION_FAILURES as exc:
            raise TransientError(
                f"{what}: cannot reach {self.name} ({type(exc).__name__})",
                advice=f"check the network and {self.base_url}",
            ) from None
        return response

    def _send(
        self, method: str, url: str, params: Any, data: Any, json_body: Any, files: Any
    ) -> tuple[requests.Response, float | None]:
        """One try through the gate: the answer, and the pause the gate asks for when it was throttled (else None)."""
        with self.gate as sent_with:
            self._count()
            started = time.monotonic()
            response = self.session.request(
                method,
                url,
                params=params,
                data=data,
                json=json_body,
                files=files,
                headers={"Authorization": self._auth_header()},
                timeout=self.timeout,
                allow_redirects=False,
            )
            # Observed while this request still counts as in flight: the remaining it reports
            # excludes the reservations of the others in flight, which the gate adds back.
            throttled = is_throttled(response)
            remaining = remaining_of(response)
            pause = self.gate.throttle(remaining, sent_with) if throttled else None
            if not throttled:
                self.gate.observe(remaining)
        log.debug(
            "%s %s -> %s in %.0f ms (cost %s, remaining %s)",
            method,
            redact_url(response.url),
            response.status_code,
            (time.monotonic() - started) * 1000,
            response.headers.get("X-Request-Cost", "-"),
            response.headers.get("X-Rate-Limit-Remaining", "-"),
        )
        return response, pause

    def json(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        """A request whose 2xx answer must be a JSON document; everything else raises."""
        response = self.request(method, path, what=what, **kwargs)
        self.check(response, what)
        return self.body(response, what)

    def body(self, response: requests.Response, what: str) -> Any:
        """The JSON of an answer already checked; a non-JSON answer means this is not the API we think."""
        try:
            return parse_json(response)
        except ValueError:
            raise FatalRemoteError(
                f"{what}: {redact_url(response.url)} did not answer with JSON"
                + (" (an HTML page)" if looks_like_html(response) else ""),
                advice=self.advice,
            ) from None

    def paginate(
        self,
        path: str,
        *,
        what: str,
        params: list[tuple[str, Any]],
        per_page: int | None = 100,
        next_rels: tuple[str, ...] = ("next",),
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield pages following the ``Link`` header's next link, stopping on an empty page — and, when we
        asked for ``per_page``, on a short one.

        Canvas's account users listing has ``next`` on every full page, even past the end, and clamps
        ``per_page`` silently (canvas-api.md §3.3, §17.10): a page is short when it holds fewer rows than the
        per_page the server applied, which its own links tell us. APIs that choose their own page size
        (``per_page=None``, Guru) are followed until the links end.
        """
        query = [*params, ("per_page", per_page)] if per_page else list(params)
        seen: set[str] = set()

        def fetch(url: str, params: list[tuple[str, Any]] | None) -> requests.Response:
            response = self.request("GET", url, what=what, params=params)
            self.check(response, what)
            return response

        # The next page is fetched while this one is consumed, so a listing costs about pages × latency, not
        # pages × (latency + our work). It is requested only once this page is known to be full: a short or
        # empty page ends the listing whatever its links say (past the end Canvas still links a next page).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="page") as pool:
            pending: Future[requests.Response] | None = pool.submit(fetch, self.url(path), query)
            while pending is not None:
                response = pending.result()
                page = self.body(response, what)
                if not isinstance(page, list):
                    raise FatalRemoteError(f"{what}: expected a JSON list, got {type(page).__name__}")
                if not page:
                    return
                short = per_page is not None and len(page) < (applied_per_page(response) or min(per_page, 100))
                next_url = None if short else self._next_link(response, next_rels, seen, what)
                pending = pool.submit(fetch, next_url, None) if next_url else None
                yield page

    def _next_link(self, response: requests.Response, rels: tuple[str, ...], seen: set[str], what: str) -> str | None:
        seen.add(response.url)
        next_url = next((response.links[rel]["url"] for rel in rels if rel in response.links), None)
        if next_url and not self.same_origin(next_url):
            raise FatalRemoteError(f"{what}: the next-page link points to another host")
        if next_url in seen:
            raise FatalRemoteError(f"{what}: the next-page link points back to a page already read")
        return next_url

    def _count(self) -> None:
        with self._count_lock:
            self.requests_made += 1


def applied_per_page(response: requests.Response) -> int | None:
    """The per_page the server really used, read from its own ``current`` (or any) link."""
    for rel in ("current", "next", "first"):
        link = response.links.get(rel, {}).get("url")
        if link:
            values = parse_qs(urlsplit(link).query).get("per_page")
            if values and values[0].isdigit():
                return int(values[0])
    return None
