"""Bad input across the modules, the lookup and the role: each case fails its task with a clear message
that names the bad value and the expected form, and nothing prints a traceback.

All cases run in one real ansible-playbook run (each task with ``ignore_errors``), which keeps the table
cheap to extend. The table below is the documentation of what each bad input gets.
"""

import datetime
import json
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
     "applications, environments, latest_backup"),
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
    # the role (argument_specs, its own type checks, then the module)
    ("role without application", "ansible.builtin.include_role: {name: divio.cloud.backup_gate}",
     "backup_gate_application"),
    ("role environments as a string",
     "ansible.builtin.include_role: {name: divio.cloud.backup_gate}\nvars: {backup_gate_application: shop, backup_gate_environments: live}",
     "backup_gate_environments must be a list of environment slugs such as [live], not the string \"live\""),
    ("role unknown service",
     "ansible.builtin.include_role: {name: divio.cloud.backup_gate}\nvars: {backup_gate_application: shop, backup_gate_services: [REDIS]}",
     "REDIS"),
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
def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


CHUNKS = 3  # separate playbook runs, so pytest-xdist can spread the table over workers


def test_the_table_is_long_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_bad_input_table(run_playbook, sim_env, tls_port, closed_port, chunk):
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
        - ansible.builtin.set_fact:
            case_%d: "{{ ansible_failed_result | combine({'failed': true}) }}"
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
    run = run_playbook(playbook, extra_vars={"tls_port": tls_port, "closed_port": closed_port}, env=sim_env)
    assert run.result is not None, run
    problems = []
    for number in numbers:
        case, _unused, expected = CASES[number]
        outcome = run.result[str(number)]
        message = outcome.get("msg", "")
        if not outcome.get("failed"):
            problems.append("%s: did not fail" % case)
        elif expected not in message:
            problems.append("%s: message %r lacks %r" % (case, message, expected))
        elif "Traceback (most recent call last)" in json.dumps(outcome):
            problems.append("%s: a traceback was shown" % case)
    assert not problems, "\n".join(problems)
    assert "Traceback" not in run.output
    assert TOKEN not in run.output
