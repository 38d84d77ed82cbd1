"""HTTP plumbing shared by the targets: one session, timeouts, throttle-aware concurrency (through the
adaptive gate of ``rategate``), safe retries, status-to-exception mapping, pagination and redaction —
vendor-neutral: what a vendor's API adds (its error bodies, throttle signals, page sizes) comes from the
``Dialect`` its package gives the client.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    nap,
    retry_if_exception_type,
    retry_if_result,
    retry_never,
    stop_after_attempt,
)

from profilesync.errors import (
    FatalRemoteError,
    NotFoundError,
    PermissionDeniedError,
    RemoteError,
    TransientError,
)
from profilesync.rategate import RateGate
from profilesync.readahead import read_ahead
from profilesync.session import USER_AGENT as USER_AGENT  # re-exported: the client's name for itself
from profilesync.session import make_session as make_session  # re-exported: every target's session factory

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
SECRET_QUERY_KEYS = frozenset({"access_token", "api_key", "token", "policy", "signature", "x-amz-signature"})


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


def parse_json(response: requests.Response) -> Any:
    """The JSON body whatever the Content-Type says (multipart answers come as text/html, docs/canvas.md §1.4)."""
    # JSON is UTF-8 (RFC 8259); response.text would decode a charset-less text/html answer as Latin-1.
    text = response.content.decode("utf-8")
    return json.loads(text) if text.strip() else None


def text_snippet(response: requests.Response) -> str:
    """The start of an answer's text on one line, for an error body that is not JSON."""
    snippet = re.sub(r"\s+", " ", response.text[:200]).strip()
    return snippet or response.reason or f"HTTP {response.status_code}"


def error_text(response: requests.Response) -> str:
    """The human part of an error body in no vendor's shape: a JSON ``message``, or the start of the text."""
    try:
        body = parse_json(response)
    except ValueError:
        return text_snippet(response)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return f"HTTP {response.status_code}"


def looks_like_html(response: requests.Response) -> bool:
    return response.text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))


def raise_for_status(
    response: requests.Response, what: str, message_of: Callable[[requests.Response], str] = error_text
) -> None:
    """Map a non-2xx answer to the project's exceptions, quoting ``message_of`` the answer (the vendor's reading
    of its error body). A vendor's dialect handles its own statuses first and leaves the rest to this."""
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
    message = message_of(response)
    if status in (401, 403):
        raise PermissionDeniedError(f"{what}: not permitted ({message})", status=status)
    if status == 404:
        raise NotFoundError(f"{what}: not found", status=status)
    if status >= 500:
        raise TransientError(f"{what}: server error {status} ({message})", status=status)
    raise RemoteError(f"{what}: {message}", status=status)


class Dialect:
    """What one vendor's API adds to plain HTTP: how it says "refused", "slow down" and "this page is full".

    The defaults are plain HTTP; each vendor's package subclasses this with its own rules, so the client below
    stays vendor-neutral.
    """

    name = "the API"  # in messages: "cannot reach <name>"

    def check(self, response: requests.Response, what: str) -> None:
        """Raise the project's exception for a non-2xx answer."""
        raise_for_status(response, what)

    def throttled(self, response: requests.Response) -> bool:
        """Whether the server refused to run the request for now (it is always safe to send again)."""
        return response.status_code == 429

    def remaining(self, response: requests.Response) -> float | None:
        """The room the server reports left in its rate limit, for the rate gate; None when it does not say."""
        return None

    def parse(self, response: requests.Response) -> Any:
        """The JSON body of an answer; ValueError when it is not JSON."""
        return parse_json(response)

    def full_page(self, response: requests.Response, per_page: int) -> int:
        """How many rows a full page holds when ``per_page`` was asked for."""
        return per_page


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
        dialect: Dialect,
        advice: str | None = None,
        sleep: Callable[[float], None] = nap.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.dialect = dialect  # the vendor's statuses, throttle signals and bodies
        name = dialect.name
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
            throttled = self.dialect.throttled(response)
            remaining = self.dialect.remaining(response)
            pause = self.gate.throttle(remaining, sent_with) if throttled else None
            if not throttled:
                self.gate.observe(remaining)
        log.debug(
            "%s %s -> %s in %.0f ms (remaining %s)",
            method,
            redact_url(response.url),
            response.status_code,
            (time.monotonic() - started) * 1000,
            "-" if remaining is None else f"{remaining:g}",
        )
        return response, pause

    def json(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        """A request whose 2xx answer must be a JSON document; everything else raises."""
        response = self.request(method, path, what=what, **kwargs)
        self.dialect.check(response, what)
        return self.body(response, what)

    def body(self, response: requests.Response, what: str) -> Any:
        """The JSON of an answer already checked; a non-JSON answer means this is not the API we think."""
        try:
            return self.dialect.parse(response)
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

        An API may link a next page from every full page, even past the end (Canvas's account users listing
        does): a page is short when it holds fewer rows than the dialect says a full page holds. APIs that choose
        their own page size (``per_page=None``, Guru) are followed until the links end.
        """
        query = [*params, ("per_page", per_page)] if per_page else list(params)
        seen: set[str] = set()

        def pages() -> Iterator[list[dict[str, Any]]]:
            # The next page is requested as soon as this one is known to be full (a short or empty page ends the
            # listing whatever its links say: past the end Canvas still links a next page), by the thread that
            # read it: a listing costs about pages × latency, the caller's work on each page running beside it.
            url: str | None = self.url(path)
            page_params: list[tuple[str, Any]] | None = query
            while url is not None:
                with self.gate.ahead():  # writes may run beside the listing (a pipelined sync): pages go first
                    response = self.request("GET", url, what=what, params=page_params)
                self.dialect.check(response, what)
                page = self.body(response, what)
                if not isinstance(page, list):
                    raise FatalRemoteError(f"{what}: expected a JSON list, got {type(page).__name__}")
                if not page:
                    return
                short = per_page is not None and len(page) < self.dialect.full_page(response, per_page)
                url, page_params = (None if short else self._next_link(response, next_rels, seen, what)), None
                yield page

        return read_ahead(pages)

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
