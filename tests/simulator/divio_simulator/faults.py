"""Fault plans for the Divio API simulator: which requests go wrong, and how.

A :class:`FaultPlan` is asked once per eligible request - an API request the simulator would answer
normally: a known path, authenticated (every path but the public root index needs a token), an allowed
method; never a ``/_simulator/`` control call, a 401, 404 or 405 - and answers with the name of a fault
kind or None. It is seeded and
thread-safe, so the same plan, seed and request order give the same faults.

Fault kinds (``KINDS``):

===============  ===========================================================================================
kind             what the client receives
===============  ===========================================================================================
500 502 503 504  that status with a JSON ``{"detail": ...}`` body
429-seconds      429 with ``Retry-After: <retry_after>`` (delta-seconds)
429-date         429 with ``Retry-After`` as an HTTP-date ``retry_after`` seconds ahead
stall            nothing for ``stall_seconds`` (longer than the client's timeout), then the normal answer
reset            the connection is reset (RST, SO_LINGER 0) without any answer
truncated        the normal answer's headers with a Content-Length larger than the body sent, then close
partial-json     a complete HTTP 200 answer whose JSON body is cut off half-way (Content-Length matches)
html             502 with a proxy's ``text/html`` error page
html-200         200 with a ``text/html`` page (a maintenance or captive-portal page)
loop-next        list pages only: ``next`` links back to the page itself
count-mismatch   list pages only: ``count`` differs from the real number of items (by 1 or 2, up or down)
empty-next       list pages only: ``results`` is empty but ``next`` is not null
duplicate-item   list pages only: the page's last item replaced by its first (one item twice, one never), count kept
===============  ===========================================================================================

Requests are numbered from 1 among the eligible requests that match ``only_paths`` (all of them when it is
None). With ``on_requests`` only those numbers get a fault (``rate`` is then ignored); otherwise each
request gets one with probability ``rate``. The kind is drawn from ``kinds`` among those that apply to the
request (the list-only kinds apply only to list endpoints); when none applies, the request is answered
normally.
"""

import random
import threading

STATUS_KINDS = ("500", "502", "503", "504")
LIST_KINDS = ("loop-next", "count-mismatch", "empty-next", "duplicate-item")
KINDS = STATUS_KINDS + ("429-seconds", "429-date", "stall", "reset", "truncated", "partial-json", "html", "html-200") + LIST_KINDS
# Kinds a careful client recovers from by retrying a GET (each try is a fresh chance).
RETRIABLE_KINDS = ("502", "503", "504", "429-seconds", "429-date", "stall", "reset", "truncated", "partial-json", "html",
                   "html-200")

DEFAULT_STALL_SECONDS = 2.0
DEFAULT_RETRY_AFTER = 1
SETTINGS = ("rate", "kinds", "seed", "only_paths", "on_requests", "stall_seconds", "retry_after")


def _number(value, name, minimum=0.0, maximum=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ValueError(f"faults.{name} must be a number {bound}")
    return value


def parse_kinds(value):
    """A list of kind names from a list or a comma-separated string; ``all`` means every kind."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(kind, str) for kind in value):
        raise ValueError("faults.kinds must be a non-empty list of fault kinds: " + ", ".join(KINDS))
    kinds = []
    for kind in value:
        expanded = KINDS if kind == "all" else (kind,)
        for name in expanded:
            if name not in KINDS:
                raise ValueError(f"unknown fault kind {name!r}; known kinds: {', '.join(KINDS)}, all")
            if name not in kinds:
                kinds.append(name)
    return kinds


class FaultPlan:
    """Decides, per request, whether and which fault to inject (see the module docstring)."""

    def __init__(self, rate=0.1, kinds=KINDS, seed=0, only_paths=None, on_requests=None,
                 stall_seconds=DEFAULT_STALL_SECONDS, retry_after=DEFAULT_RETRY_AFTER):
        self.rate = float(_number(rate, "rate", 0.0, 1.0))
        self.kinds = parse_kinds(kinds)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError("faults.seed must be an integer")
        self.seed = seed
        if only_paths is not None:
            if isinstance(only_paths, str):
                only_paths = [only_paths]
            if not isinstance(only_paths, (list, tuple)) or not all(isinstance(p, str) and p.startswith("/") for p in only_paths):
                raise ValueError("faults.only_paths must be a list of paths such as /apps/v3/backups/")
            only_paths = list(only_paths)
        self.only_paths = only_paths
        if on_requests is not None:
            if not isinstance(on_requests, (list, tuple)) or not all(
                    isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in on_requests):
                raise ValueError("faults.on_requests must be a list of request numbers >= 1")
            on_requests = sorted(set(on_requests))
        self.on_requests = on_requests
        self.stall_seconds = float(_number(stall_seconds, "stall_seconds"))
        if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0:
            raise ValueError("faults.retry_after must be a whole number of seconds >= 0")
        self.retry_after = retry_after
        self._on = frozenset(on_requests or ())
        self._paths = frozenset(only_paths) if only_paths is not None else None
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._seen = 0

    @classmethod
    def from_config(cls, value):
        """A plan from a settings dict (``configure(faults=...)``, JSON), or None for "no faults"."""
        if value is None or isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise ValueError("faults must be an object with some of: " + ", ".join(SETTINGS) + " (or null)")
        if not value:
            return None
        unknown = sorted(set(value) - set(SETTINGS))
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
        return cls(**value)

    def config(self):
        """The settings, as ``from_config`` takes them."""
        return {"rate": self.rate, "kinds": list(self.kinds), "seed": self.seed, "only_paths": self.only_paths,
                "on_requests": self.on_requests, "stall_seconds": self.stall_seconds, "retry_after": self.retry_after}

    def decide(self, path, is_list):
        """The fault kind for this request, or None. Call once per eligible request."""
        if self._paths is not None and path not in self._paths:
            return None
        kinds = self.kinds if is_list else [kind for kind in self.kinds if kind not in LIST_KINDS]
        with self._lock:
            self._seen += 1
            if self.on_requests is not None:
                hit = self._seen in self._on
            else:
                # Always draw, so the sequence of draws depends only on the number of requests.
                hit = self._rng.random() < self.rate
            if not hit or not kinds:
                return None
            return kinds[self._rng.randrange(len(kinds))]

    def draw(self, choices):
        """A seeded choice for the details of a fault (e.g. how far a count is off)."""
        with self._lock:
            return choices[self._rng.randrange(len(choices))]
