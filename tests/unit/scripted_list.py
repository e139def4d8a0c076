"""A scripted Django REST framework list endpoint for the paginator's unit tests (mocked HTTP, ``responses``).

``ScriptedList`` serves ``self.items`` (dicts with a uuid) the way a DRF view can cut them: ``page_size``
honoured up to ``cap``, or ignored (``ignore_page_size``: every page ``cap`` long); ``count`` given or null
(``null_count``); next links numbered (``page=N``) or opaque (``cursor``: an offset only the server reads,
as LimitOffset or cursor pagination would hand out). ``before(number, page, size)`` runs under the lock
before request ``number`` (1-based) is answered and may change ``self.items``; with ``glitches`` (a seeded
``random.Random``) a page now and then holds one item twice and another never, or a count off by one, as the
simulator's list faults do. ``Changes`` records what
changed, so a test can tell which items existed for the whole read.
"""

import base64
import json
import threading
from urllib.parse import parse_qs, urlsplit

BASE = "https://api.divio.com"
BACKUPS = "/apps/v3/backups/"


class ScriptedList:
    def __init__(self, count, cap=100, before=None, ignore_page_size=False, null_count=False, cursor=False,
                 glitches=None):
        self.items = [{"uuid": "item-%05d" % n} for n in range(count)]
        self.cap = cap
        self.before = before
        self.ignore_page_size = ignore_page_size
        self.null_count = null_count
        self.cursor = cursor
        self.glitches = glitches  # a random.Random: now and then a page with one item twice, or a count off by one
        self.requests = []  # (page, page_size) as answered; page is the offset for cursor links
        self.created = 0
        self.lock = threading.Lock()

    def new_item(self):
        self.created += 1
        return {"uuid": "new-%05d" % self.created}

    def __call__(self, request):
        query = {k: v[-1] for k, v in parse_qs(urlsplit(request.url).query).items()}
        asked = int(query.get("page_size", 20))
        size = self.cap if self.ignore_page_size else min(asked, self.cap)
        with self.lock:
            if self.cursor:
                offset = int(base64.urlsafe_b64decode(query["cursor"]).decode()) if "cursor" in query else 0
                number = offset // size + 1
            else:
                number = int(query.get("page", 1))
                offset = (number - 1) * size
            self.requests.append((offset if self.cursor else number, size))
            if self.before:
                self.before(len(self.requests), number, size)
            count = len(self.items)
            pages = max(1, -(-count // size))
            if not self.cursor and not 1 <= number <= pages:
                return 404, {}, json.dumps({"detail": "Invalid page."})
            results = [dict(item) if isinstance(item, dict) else item for item in self.items[offset:offset + size]]
        following = None
        if offset + size < count:
            if self.cursor:
                token = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
                following = "%s%s?cursor=%s&page_size=%d" % (BASE, BACKUPS, token, asked)
            else:
                following = "%s%s?page=%d&page_size=%d" % (BASE, BACKUPS, number + 1, asked)
        if self.glitches is not None and self.glitches.random() < 0.1 and len(results) > 1:
            results[-1] = results[0]  # the simulator's duplicate-item fault, once
        if self.glitches is not None and self.glitches.random() < 0.1:
            count += self.glitches.choice((-1, 1))  # its count-mismatch fault, once
        body = {"count": None if self.null_count else count, "next": following, "previous": None, "results": results}
        return 200, {}, json.dumps(body)


class Changes:
    """Wraps a ``before`` script and records every item deleted or created while the list was read."""

    def __init__(self, scripted, before):
        self.scripted = scripted
        self.script = before
        self.deleted = set()
        self.created = set()
        self.original = [item["uuid"] for item in scripted.items]
        scripted.before = self

    def __call__(self, number, page, size):
        present = set(item["uuid"] for item in self.scripted.items)
        self.script(number, page, size)
        now = set(item["uuid"] for item in self.scripted.items)
        self.deleted |= present - now
        self.created |= now - present

    def check(self, got):
        """The guarantee: every item there for the whole read exactly once; nothing twice; nothing invented."""
        assert len(got) == len(set(got)), "an item came twice: %s" % sorted(u for u in set(got) if got.count(u) > 1)[:5]
        missing = set(self.original) - self.deleted - set(got)
        assert not missing, "missed items that existed for the whole read: %s" % sorted(missing)[:5]
        assert set(got) <= set(self.original) | self.created, "an item that never existed"
