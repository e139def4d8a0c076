"""Bad input across the modules, the lookup and the role: each case fails its task with a clear message
that names the bad value and the expected form, and nothing prints a traceback.

All cases run in one real ansible-playbook run (each task with ``ignore_errors``), which keeps the table
cheap to extend. The table below is the documentation of what each bad input gets.
"""

import base64
import datetime
import json
import re
import socket
import ssl
import tempfile
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from testlib import TOKEN

APP = "shop"
# The password of the credentials case: it must not show up anywhere, whatever characters surround it.
URL_SECRET = "urlPw-Sekr3t"

# (case id, task YAML (one task body, indented for a task list), text the failure message must contain)
CASES = [
    # backup_info options
    ("empty application", "divio.cloud.backup_info: {application: ''}",
     "application '' is not valid: expected a non-empty string"),
    ("missing application", "divio.cloud.backup_info: {environment: live}",
     "missing required arguments: application"),
    ("unknown application", "divio.cloud.backup_info: {application: no-such-app}",
     "application 'no-such-app' not found: no application with this slug (/apps/v3/applications/?slug=) or this id"),
    ("unknown application uuid", "divio.cloud.backup_info: {application: 00000000-0000-4000-8000-000000000000}",
     "application '00000000-0000-4000-8000-000000000000' not found: no application with this slug"),
    ("unknown environment", "divio.cloud.backup_info: {application: shop, environment: prod}",
     "environment 'prod' not found in application 'shop'; it has: live, test"),
    ("max_age words", "divio.cloud.backup_info: {application: shop, max_age: '24 hours'}",
     "max_age '24 hours' is not valid: expected a number of seconds (e.g. 86400) or numbers with units"),
    ("max_age unit", "divio.cloud.backup_info: {application: shop, max_age: 10y}",
     "max_age '10y' is not valid: expected a number of seconds"),
    ("max_age zero", "divio.cloud.backup_info: {application: shop, max_age: 0}",
     "max_age 0 is not valid: it must be longer than 0 seconds"),
    ("max_age negative", "divio.cloud.backup_info: {application: shop, max_age: -5}",
     "max_age -5 is not valid: it must be longer than 0 seconds"),
    ("max_age list", "divio.cloud.backup_info: {application: shop, max_age: [1]}",
     "max_age [1] is not valid: expected a number of seconds"),
    ("max_age float", "divio.cloud.backup_info: {application: shop, max_age: 1.5}",
     "max_age 1.5 is not valid: expected a number of seconds"),
    ("unknown service", "divio.cloud.backup_info: {application: shop, services: [REDIS]}",
     "services: 'REDIS' is not a known service type; known types are DATABASE, STORAGE"),
    ("empty services", "divio.cloud.backup_info: {application: shop, services: []}",
     "services [] is not valid: expected a non-empty list of service types from DATABASE, STORAGE"),
    ("limit zero", "divio.cloud.backup_info: {application: shop, latest: false, limit: 0}",
     "limit 0 is not valid: expected a whole number of at least 1"),
    ("limit words", "divio.cloud.backup_info: {application: shop, limit: many}",
     "argument 'limit' is of type str and we were unable to convert to int"),
    ("latest not a bool", "divio.cloud.backup_info: {application: shop, latest: perhaps}",
     "argument 'latest' is of type str and we were unable to convert to bool"),
    # application_info / environment_info
    ("organisation empty", "divio.cloud.application_info: {organisation: ' '}",
     "organisation ' ' is not valid: expected a non-empty string"),
    ("uuid empty", "divio.cloud.application_info: {uuid: ''}",
     "uuid '' is not valid: expected a non-empty string"),
    ("environment_info empty application", "divio.cloud.environment_info: {application: '   '}",
     "application '   ' is not valid: expected a non-empty string"),
    ("environment uuid empty", "divio.cloud.environment_info: {application: shop, uuid: ''}",
     "uuid '' is not valid: expected a non-empty string"),
    # backup_check
    ("backup_check max_age", "divio.cloud.backup_check: {max_age: soon}",
     "max_age 'soon' is not valid: expected a number of seconds"),
    ("backup_check services", "divio.cloud.backup_check: {services: [DB]}",
     "services: 'DB' is not a known service type; known types are DATABASE, STORAGE"),
    ("backup_check organisation", "divio.cloud.backup_check: {organisation: ''}",
     "organisation '' is not valid: expected a non-empty string"),
    # connection options
    ("api_url without scheme", "divio.cloud.application_info: {api_url: api.divio.com}",
     "api_url 'api.divio.com' is not valid: it needs an http:// or https:// scheme"),
    ("api_url with a path", "divio.cloud.application_info: {api_url: 'http://127.0.0.1:8000/apps/v3/'}",
     "api_url 'http://127.0.0.1:8000/apps/v3/' is not valid: it must not have a path"),
    ("zone with spaces", "divio.cloud.application_info: {zone: 'divio com'}\nenvironment: {DIVIO_API_URL: ''}",
     "zone 'divio com' is not valid: expected a domain name such as divio.com"),
    ("timeout zero", "divio.cloud.application_info: {timeout: 0}",
     "timeout 0.0 is not valid: expected a number of seconds greater than 0"),
    ("timeout negative", "divio.cloud.application_info: {timeout: -3}",
     "timeout -3.0 is not valid: expected a number of seconds greater than 0"),
    ("timeout words", "divio.cloud.application_info: {timeout: soon}",
     "argument 'timeout' is of type str and we were unable to convert to float"),
    ("timeout infinite", "divio.cloud.application_info: {timeout: .inf}",
     "timeout inf is not valid: expected a number of seconds greater than 0 and at most 3600"),
    ("timeout absurd", "divio.cloud.application_info: {timeout: 1e9}",
     "timeout 1000000000.0 is not valid: expected a number of seconds greater than 0 and at most 3600"),
    ("timeout from the environment", "divio.cloud.application_info:\nenvironment: {DIVIO_TIMEOUT: soon}",
     "timeout 'soon' from the DIVIO_TIMEOUT environment variable is not valid: expected a number of seconds"),
    ("validate_certs from the environment", "divio.cloud.application_info:\nenvironment: {DIVIO_VALIDATE_CERTS: maybe}",
     "validate_certs 'maybe' from the DIVIO_VALIDATE_CERTS environment variable is not valid: expected true or false"),
    ("retries zero", "divio.cloud.backup_info: {application: shop, retries: 0}",
     "retries 0 is not valid: expected a whole number of tries from 1 (no retry) to 100"),
    ("deadline zero", "divio.cloud.backup_check: {deadline: 0}",
     "deadline 0.0 is not valid: expected a number of seconds greater than 0 and at most 86400"),
    ("deadline nan from the environment", "divio.cloud.application_info:\nenvironment: {DIVIO_DEADLINE: nan}",
     "deadline 'nan' from the DIVIO_DEADLINE environment variable is not valid: expected a number of seconds"),
    ("max_pages negative", "divio.cloud.environment_info: {application: shop, max_pages: -1}",
     "max_pages -1 is not valid: expected a whole number of pages from 1 to 10000000"),
    ("max_concurrency absurd", "divio.cloud.application_info: {max_concurrency: 100000}",
     "max_concurrency 100000 is not valid: expected a whole number of requests from 1 to 64"),
    ("max_response_bytes zero", "divio.cloud.application_info: {max_response_bytes: 0}",
     "max_response_bytes 0 is not valid: expected a whole number of bytes from 1 to 1073741824"),
    ("api_url with a space", "divio.cloud.application_info: {api_url: 'http://127.0.0.1:80 00'}",
     "api_url 'http://127.0.0.1:80 00' is not valid: it contains a space (U+0020) at character 20"),
    ("api_url with a line break",
     "divio.cloud.application_info:\nenvironment: {DIVIO_API_URL: \"http://127.0.0.1:8000\\n\"}",
     "api_url 'http://127.0.0.1:8000\\n' from the DIVIO_API_URL environment variable is not valid: "
     "it contains the control character U+000A at character 22"),
    ("api_url scheme", "divio.cloud.application_info: {api_url: 'ftp://api.divio.com'}",
     "api_url 'ftp://api.divio.com' is not valid: it needs an http:// or https:// scheme, not ftp://"),
    ("api_url credentials", "divio.cloud.application_info: {api_url: 'https://me:p@ss/w#rd?%%40-%s@api.divio.com'}" % URL_SECRET,
     "api_url 'https://***@api.divio.com' is not valid: credentials in the URL are not supported; use api_token"),
    ("plain http to a remote host", "divio.cloud.application_info: {api_url: 'http://api.example.com'}",
     "api_url 'http://api.example.com' is refused: plain http:// would send the API token unencrypted to "
     "api.example.com, which is not a loopback address"),
    ("plain http zone", "divio.cloud.backup_info: {application: shop, zone: 'http://203.0.113.7:8000'}\n"
                        "environment: {DIVIO_API_URL: ''}",
     "zone 'http://203.0.113.7:8000' is refused: plain http:// would send the API token unencrypted"),
    ("netrc missing", "divio.cloud.application_info:\nenvironment: {DIVIO_API_TOKEN: '', NETRC_PATH: /nonexistent/netrc}",
     "no API token: the netrc file /nonexistent/netrc (named by NETRC_PATH) does not exist; fix NETRC_PATH"),
    ("netrc a folder", "divio.cloud.application_info:\nenvironment: {DIVIO_API_TOKEN: '', NETRC_PATH: '{{ playbook_dir }}'}",
     "(named by NETRC_PATH) is a folder, not a file"),
    ("token with a space", "divio.cloud.application_info: {api_token: 'abc def'}",
     "the API token from the api_token option contains whitespace or control characters; it was not sent"),
    ("token with a newline", "divio.cloud.application_info: {api_token: \"abc\\n\"}",
     "the API token from the api_token option contains whitespace or control characters; it was not sent"),
    ("unreachable host", "divio.cloud.application_info: {api_url: 'http://127.0.0.1:{{ closed_port }}', timeout: 1}",
     "could not connect to 127.0.0.1:"),
    ("TLS verification", "divio.cloud.application_info: {api_url: 'https://127.0.0.1:{{ tls_port }}'}",
     "TLS certificate verification failed for 127.0.0.1:"),
    # the lookup
    ("lookup without a term", "ansible.builtin.debug: {msg: \"{{ query('divio.cloud.divio') }}\"}",
     "applications, environment_variables, environments, latest_backup"),
    ("lookup unknown term", "ansible.builtin.debug: {msg: \"{{ query('divio.cloud.divio', 'backups') }}\"}",
     "'backups'"),
    ("lookup two terms", "ansible.builtin.debug: {msg: \"{{ query('divio.cloud.divio', 'applications', 'environments') }}\"}",
     "2 terms"),
    ("lookup option of another term",
     "ansible.builtin.debug: {msg: \"{{ query('divio.cloud.divio', 'applications', environment='live') }}\"}",
     "environment does not apply to term 'applications'"),
    ("lookup bad max_age",
     "ansible.builtin.debug: {msg: \"{{ lookup('divio.cloud.divio', 'latest_backup', application='shop', max_age='soon') }}\"}",
     "max_age 'soon' is not valid"),
    ("lookup bad api_url",
     "ansible.builtin.debug: {msg: \"{{ query('divio.cloud.divio', 'applications', api_url='ftp://x') }}\"}",
     "api_url 'ftp://x' is not valid: it needs an http:// or https:// scheme"),
    ("lookup retries zero",
     "ansible.builtin.debug: {msg: \"{{ query('divio.cloud.divio', 'applications', retries=0) }}\"}",
     "retries 0 is not valid: expected a whole number of tries from 1 (no retry) to 100"),
    ("lookup timeout infinite from a variable",
     "ansible.builtin.debug: {msg: \"{{ query('divio.cloud.divio', 'applications') }}\"}\nvars: {divio_timeout: .inf}",
     "timeout inf from the divio_timeout variable is not valid: expected a number of seconds greater than 0"),
    ("lookup plain http to a remote host",
     "ansible.builtin.debug: {msg: \"{{ query('divio.cloud.divio', 'applications', api_url='http://192.0.2.1:8000') }}\"}",
     "api_url 'http://192.0.2.1:8000' is refused: plain http:// would send the API token unencrypted to 192.0.2.1"),
    ("lookup api_url with a tab",
     "ansible.builtin.debug: {msg: \"{{ query('divio.cloud.divio', 'applications') }}\"}\n"
     "vars: {divio_api_url: \"http://127.0.0.1:80\\t00\"}",
     "api_url 'http://127.0.0.1:80\\t00' from the divio_api_url variable is not valid: it contains the control "
     "character U+0009"),
    # the role (argument_specs, its own type checks, then the module)
    ("role without application", "ansible.builtin.include_role: {name: divio.cloud.backup_gate}",
     "backup_gate_application"),
    ("role environments as a string",
     "ansible.builtin.include_role: {name: divio.cloud.backup_gate}\nvars: {backup_gate_application: shop, backup_gate_environments: live}",
     "backup_gate_environments must be a list of environment slugs such as [live], not the string \"live\""),
    ("role unknown service",
     "ansible.builtin.include_role: {name: divio.cloud.backup_gate}\nvars: {backup_gate_application: shop, backup_gate_services: [REDIS]}",
     "REDIS"),
    ("role bad min_retention",
     "ansible.builtin.include_role: {name: divio.cloud.backup_gate}\nvars: {backup_gate_application: shop, backup_gate_min_retention: soon}",
     "min_retention 'soon' is not valid"),
    ("lookup bad min_retention",
     "ansible.builtin.debug: {msg: \"{{ lookup('divio.cloud.divio', 'latest_backup', application='shop', min_retention=-1) }}\"}",
     "min_retention -1 is not valid"),
    ("role bad max_age",
     "ansible.builtin.include_role: {name: divio.cloud.backup_gate}\nvars: {backup_gate_application: shop, backup_gate_max_age: '24 hours'}",
     "max_age '24 hours' is not valid"),
]


def _self_signed_tls_server():
    """A TLS server on loopback whose certificate nobody trusts; it accepts and hands the handshake to ssl."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as pem:
        pem.write(cert.public_bytes(serialization.Encoding.PEM))
        pem.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    context.load_cert_chain(pem.name)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _unused = listener.accept()
            except OSError:
                continue
            try:
                context.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener, stop


@pytest.fixture
def tls_port():
    listener, stop = _self_signed_tls_server()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


@pytest.fixture
def proxy_trap():
    """A loopback "proxy" that counts connections. The table runs with it as http(s)_proxy for everything but
    loopback, so a request to a remote host that should have been refused lands here - nothing leaves the
    machine, not even a DNS query - and the test fails."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    connections, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _unused = listener.accept()
            except OSError:
                continue
            connections.append(conn.getpeername())
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    url = "http://127.0.0.1:%d" % listener.getsockname()[1]
    loopback = "127.0.0.1,localhost,::1"
    env = dict(http_proxy=url, HTTP_PROXY=url, https_proxy=url, HTTPS_PROXY=url, no_proxy=loopback, NO_PROXY=loopback)
    yield env, connections
    stop.set()
    listener.close()


@pytest.fixture
def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


CHUNKS = 3  # separate playbook runs, so pytest-xdist can spread the table over workers


def test_the_table_is_long_enough():
    assert len(CASES) >= 30


def _decoded(outcome):
    """A case's result: a failed one comes from its rescue as base64 JSON, a succeeded one as registered."""
    return json.loads(base64.b64decode(outcome)) if isinstance(outcome, str) else outcome


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_bad_input_table(run_playbook, sim_env, tls_port, closed_port, proxy_trap, chunk):
    numbers = list(range(chunk, len(CASES), CHUNKS))
    tasks = []
    for number in numbers:
        task = CASES[number][1]
        tasks.append("""
    - name: case %d
      block:
        - %s
          register: case_%d
      rescue:
        # As JSON text (in base64, which no templating reads back as a dict): ansible-core 2.16 turns a dict that
        # holds a float inf (timeout: .inf, echoed in the module's invocation) into its Python repr, a string.
        - ansible.builtin.set_fact:
            case_%d: "{{ ansible_failed_result | combine({'failed': true}) | to_json | b64encode }}"
""" % (number, task.replace("\n", "\n          "), number, number))
    playbook = """
- hosts: localhost
  gather_facts: false
  tasks:
%s
    - ansible.builtin.copy:
        content: "{{ %s | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
""" % ("".join(tasks), "{" + ", ".join("'%d': case_%d | default({})" % (n, n) for n in numbers) + "}")
    proxy_env, proxied = proxy_trap
    run = run_playbook(playbook, extra_vars={"tls_port": tls_port, "closed_port": closed_port},
                       env=dict(sim_env, **proxy_env))
    assert run.result is not None, run
    problems, outcomes = [], {}
    for number in numbers:
        case, _unused, expected = CASES[number]
        outcome = outcomes[number] = _decoded(run.result[str(number)])
        # ansible-core 2.16 words a type error "of type <class 'str'>", 2.19 "of type str".
        message = re.sub(r"<class '(\w+)'>", r"\1", outcome.get("msg", ""))
        if not outcome.get("failed"):
            problems.append("%s: did not fail" % case)
        elif expected not in message:
            problems.append("%s: message %r lacks %r" % (case, message, expected))
        elif "Traceback (most recent call last)" in json.dumps(outcome):
            problems.append("%s: a traceback was shown" % case)
    assert not problems, "\n".join(problems)
    assert "Traceback" not in run.output
    assert TOKEN not in run.output
    # Ansible quotes the failing task's own playbook lines ("120  - divio.cloud...: {api_url: ...}"); the
    # password may show there, as the user wrote it - but in no message, result or module argument echo.
    assert [line for line in run.output.splitlines() if URL_SECRET in line and not re.match(r"\d+ +- ", line)] == []
    assert URL_SECRET not in json.dumps(outcomes)
    assert proxied == [], "a refused request was sent anyway"
