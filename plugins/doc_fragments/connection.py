# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # Connection options shared by every module and plugin. The source of truth is the option table
    # CONNECTION_OPTIONS in plugins/module_utils/connection.py; tests/unit/test_options.py proves that
    # these names, types, defaults and environment variables agree with it (ansible-test needs a static
    # string here). Defaults are applied by resolve_connection, after the environment variable, so they
    # are stated in the descriptions rather than as default: keys.
    DOCUMENTATION = r"""
options:
  api_token:
    description:
      - "Divio API token, sent in the header C(Authorization: Token <token>)."
      - If not set, the E(DIVIO_API_TOKEN) environment variable is used, then the netrc file
        (E(NETRC_PATH) or C(~/.netrc)) entry for C(api.<zone>), then C(control.<zone>) - where
        C(divio login) stores it, so a logged-in user needs no configuration.
      - For a server given by O(api_url), the netrc entry of its host name is used.
      - A token with whitespace or line breaks is rejected before anything is sent.
    type: str
  api_url:
    description:
      - Base URL of the API, for example V(http://127.0.0.1:8000) for the bundled simulator.
      - Overrides O(zone). Only scheme, host and port; the API paths (C(/apps/v3/), C(/iam/v3/)) are added.
      - If not set, the E(DIVIO_API_URL) environment variable is used.
    type: str
  zone:
    description:
      - Divio zone; the API is then C(https://api.<zone>).
      - If not set, the E(DIVIO_ZONE) environment variable is used, then V(divio.com).
    type: str
  validate_certs:
    description:
      - Verify the API's TLS certificate. Set to V(false) only for test servers with self-signed certificates.
      - If not set, the E(DIVIO_VALIDATE_CERTS) environment variable is used, then V(true).
    type: bool
  timeout:
    description:
      - Seconds one HTTP request may take in all - connecting, waiting for the answer and reading the complete
        body - before it is retried (and eventually fails). A server that sends slowly cannot stretch it.
      - If not set, the E(DIVIO_TIMEOUT) environment variable is used, then V(30). At most V(3600).
    type: float
  retries:
    description:
      - How often one request is tried in all, the first try included; V(1) means no retry.
      - Connection errors, timeouts and HTTP 429, 502, 503 and 504 are retried, with exponential backoff and
        jitter, honouring C(Retry-After). A request that changes something (a POST) is repeated only when the
        server said it did not process it.
      - If not set, the E(DIVIO_RETRIES) environment variable is used, then V(6). At most V(100).
    type: int
  deadline:
    description:
      - Seconds all API requests of the task may take together, retries and waits included. When it is
        reached the task fails with a message naming this option.
      - If not set, the E(DIVIO_DEADLINE) environment variable is used, then no deadline (each request is
        still bounded, see the notes). At most V(86400).
    type: float
  allow_plain_http:
    description:
      - Allow O(api_url) or O(zone) to be a plain C(http://) URL of a host that is not this machine. The API
        token would then travel unencrypted; without this option such a URL is refused before anything is sent.
      - Loopback addresses (C(127.0.0.0/8), C(::1), C(localhost)) are always allowed, for the bundled simulator.
      - If not set, the E(DIVIO_ALLOW_PLAIN_HTTP) environment variable is used, then V(false).
    type: bool
  max_response_bytes:
    description:
      - The largest response body read, in bytes; a larger answer fails the request instead of filling memory.
      - If not set, the E(DIVIO_MAX_RESPONSE_BYTES) environment variable is used, then V(33554432) (32 MiB).
    type: int
  max_pages:
    description:
      - The most pages read for one list (applications, environments, backups, ...); a list with more pages
        fails the task instead of being read without end.
      - If not set, the E(DIVIO_MAX_PAGES) environment variable is used, then V(20000).
    type: int
  max_items:
    description:
      - The most items read for one list; a list with more fails the task. Pages are fetched one by one,
        never allocated from the C(count) a server claims.
      - If not set, the E(DIVIO_MAX_ITEMS) environment variable is used, then V(1000000).
    type: int
  max_concurrency:
    description:
      - The most API requests in flight at the same time, for the whole task. The client halves it for a
        while when the API answers 429 (too many requests).
      - If not set, the E(DIVIO_MAX_CONCURRENCY) environment variable is used, then V(8). At most V(64).
    type: int
  max_reread:
    description:
      - How many times in a row one stretch of a list may be read again because the list changed under the
        read (backups created or deleted meanwhile) before the task gives up with an error saying how much
        changed. Ordinary changes need one re-read now and then; raise it for a very busy account.
      - If not set, the E(DIVIO_MAX_REREAD) environment variable is used, then V(5). At most V(1000).
    type: int
notes:
  - Each connection option is taken from the task's option, else its environment variable (E(DIVIO_API_URL),
    E(DIVIO_TIMEOUT), ... - the same for modules and plugins), else its default. Every value is checked before
    any request - a number that is not finite, zero or negative where that means nothing, or absurdly large,
    a URL with spaces or control characters - and a bad one fails the task naming the option, the value (never
    a credential) and where it came from.
  - "Limits and guarantees: one request takes at most O(timeout) seconds, connecting and reading the whole body
    included; with retries at most O(timeout) x O(retries) plus the backoff between tries (each wait at most
    20 seconds, two minutes in all per request); all requests of a task at most O(deadline) seconds when it is
    set. A response body is at most O(max_response_bytes) bytes, one list at most O(max_pages) pages and
    O(max_items) items, and at most O(max_concurrency) requests run at once. Going past a limit fails the task
    with a message naming the option - never a partial answer."
  - The API token is never sent over plain C(http://) to another machine unless O(allow_plain_http=true), and
    never shown in a message, a result or debug output.
  - Lists are read completely or not at all - a page that fails, a looping or foreign C(next) link or a
    C(count) that disagrees with what arrived fails the task instead of returning part of a list.
  - A list that changes while it is read (backups created or deleted meanwhile) is still read correctly - every
    item that exists for the whole read is seen exactly once - by reading its pages as overlapping windows and
    reading a stretch again where the list moved; see O(max_reread).
requirements:
  - requests >= 2.25
"""

    # Extra sources for plugins (lookup, inventory): environment, ansible.cfg and variables.
    PLUGINS = r"""
options:
  api_token:
    env:
      - name: DIVIO_API_TOKEN
    ini:
      - section: divio
        key: api_token
    vars:
      - name: divio_api_token
  api_url:
    env:
      - name: DIVIO_API_URL
    ini:
      - section: divio
        key: api_url
    vars:
      - name: divio_api_url
  zone:
    env:
      - name: DIVIO_ZONE
    ini:
      - section: divio
        key: zone
    vars:
      - name: divio_zone
  validate_certs:
    env:
      - name: DIVIO_VALIDATE_CERTS
    ini:
      - section: divio
        key: validate_certs
    vars:
      - name: divio_validate_certs
  timeout:
    env:
      - name: DIVIO_TIMEOUT
    ini:
      - section: divio
        key: timeout
    vars:
      - name: divio_timeout
  retries:
    env:
      - name: DIVIO_RETRIES
    ini:
      - section: divio
        key: retries
    vars:
      - name: divio_retries
  deadline:
    env:
      - name: DIVIO_DEADLINE
    ini:
      - section: divio
        key: deadline
    vars:
      - name: divio_deadline
  allow_plain_http:
    env:
      - name: DIVIO_ALLOW_PLAIN_HTTP
    ini:
      - section: divio
        key: allow_plain_http
    vars:
      - name: divio_allow_plain_http
  max_response_bytes:
    env:
      - name: DIVIO_MAX_RESPONSE_BYTES
    ini:
      - section: divio
        key: max_response_bytes
    vars:
      - name: divio_max_response_bytes
  max_pages:
    env:
      - name: DIVIO_MAX_PAGES
    ini:
      - section: divio
        key: max_pages
    vars:
      - name: divio_max_pages
  max_items:
    env:
      - name: DIVIO_MAX_ITEMS
    ini:
      - section: divio
        key: max_items
    vars:
      - name: divio_max_items
  max_concurrency:
    env:
      - name: DIVIO_MAX_CONCURRENCY
    ini:
      - section: divio
        key: max_concurrency
    vars:
      - name: divio_max_concurrency
  max_reread:
    env:
      - name: DIVIO_MAX_REREAD
    ini:
      - section: divio
        key: max_reread
    vars:
      - name: divio_max_reread
"""
