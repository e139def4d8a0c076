"""What the client's unit tests share about the mocked HTTP API (``responses``): where it is, and DRF pages.
The fixtures ``make_client`` and ``client`` (a client on it) are in conftest.py."""

from urllib.parse import parse_qs, urlsplit

import responses
from responses import matchers

from ansible_collections.divio.cloud.plugins.module_utils.client import DEFAULT_PAGE_SIZE

TOKEN = "tok-sekrit-5f2c9a71e0d84b36"
BASE = "https://api.divio.com"
ME = "/iam/v3/me/"
BACKUPS = "/apps/v3/backups/"
PAGE_SIZE = str(DEFAULT_PAGE_SIZE)


def add_json(api, path, body=None, status=200, query=None, **kwargs):
    match = [matchers.query_param_matcher(query)] if query is not None else []
    api.add(responses.GET, BASE + path, json=body if body is not None else {}, status=status, match=match, **kwargs)


def page(results, next_query=None, count=None, host=BASE, path=BACKUPS):
    """A DRF page; ``next_query`` is the next link's query string (absolute URL on ``host``)."""
    return {"count": count, "next": "%s%s?%s" % (host, path, next_query) if next_query else None,
            "previous": None, "results": results}


def call_hosts(api):
    return [urlsplit(call.request.url).netloc for call in api.calls]


def call_queries(api):
    return [{k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()} for call in api.calls]
