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
      - Seconds to wait for each HTTP answer before the request is retried (and eventually fails).
      - If not set, the E(DIVIO_TIMEOUT) environment variable is used, then V(30).
    type: float
notes:
  - Each connection option is taken from the task's option, else its environment variable (E(DIVIO_API_URL),
    E(DIVIO_TIMEOUT), ... - the same for modules and plugins), else its default; a bad value fails the task
    before any request, naming the option and where the value came from.
  - Requests that fail with a connection error, a timeout, HTTP 429, 502, 503 or 504 are retried with
    exponential backoff and jitter, honouring C(Retry-After), for at most six tries and two minutes.
  - Lists are read completely or not at all - a page that fails, a looping or foreign C(next) link or a
    C(count) that disagrees with what arrived fails the task instead of returning part of a list.
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
"""
