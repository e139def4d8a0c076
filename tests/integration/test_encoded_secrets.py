"""A sensitive value that a deploy log quotes encoded (JSON-escaped, repr-quoted, percent-encoded, base64) never
leaves a task: the ``deployment`` module's failure (message and ``log_tail``) and ``deployment_info``'s logs, run
for real by ansible-playbook against a simulator whose logs quote the value that way (``encoded_secrets``)."""

import base64
import json
import re
from urllib.parse import quote, quote_plus

import requests

from testlib import TOKEN, play, private_simulator

# Quotes, a backslash, braces, spaces, @, + and non-ASCII: every one changes under some encoding.
HOSTILE = "p@ss word+1 \"q\" 'x' \\b {{x}} Z\u00fcrich"
DEPLOYMENTS = "/apps/v3/deployments/"


def lower_hex(text):
    return re.sub("%[0-9A-F]{2}", lambda match: match.group(0).lower(), text)


def forms(value):
    """The encoded forms a leak would show, made here by each encoder (not by the code under test)."""
    data = value.encode("utf-8")
    return {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], repr(value)[1:-1],
            quote(value, safe=""), lower_hex(quote(value, safe="")), quote_plus(value, safe=""), base64.b64encode(data).decode()}


def decodes_to(text, data):
    """Does any base64 run in ``text``, read from any of its first four characters, decode to bytes holding ``data``?"""
    for run in re.findall(r"[A-Za-z0-9+/]{8,}", text):
        for start in range(4):
            piece = run[start:]
            try:
                if data in base64.b64decode(piece[:len(piece) - len(piece) % 4]):
                    return True
            except ValueError:
                pass
    return False


def leaks(text, value):
    return sorted(form for form in forms(value) if form in text) + (["base64 inside a longer text"]
                                                                    if decodes_to(text, value.encode("utf-8")) else [])


def test_encoded_secrets_never_leave_the_deployment_modules(run_playbook):
    with private_simulator(deployments={"duration_seconds": 0.5, "encoded_secrets": ["SECRET_KEY"]}) as sim:
        ds = sim.dataset
        portal = next(app for app in ds.applications if app["slug"] == "portal")
        live = next(env for env in ds.environments if env["application"] == portal["uuid"] and env["slug"] == "live")
        [variable] = [item for item in ds.lookup("environment_variables", "environment", live["uuid"])
                      if item["name"] == "SECRET_KEY"]
        variable["value"] = HOSTILE
        tasks = """
    - block:
        - divio.cloud.deployment: {application: portal, environment: live, log_lines: 30, poll_interval: 0.1}
      rescue:
        - ansible.builtin.set_fact: {failed_result: "{{ ansible_failed_result }}"}
    - divio.cloud.deployment_info: {application: portal, environment: live, limit: 3, logs: true}
      register: listed
    - ansible.builtin.set_fact:
        out: {failed: "{{ failed_result }}", listed: "{{ listed }}"}
"""
        run = run_playbook(play(tasks), env={"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}, args=["-vvv"])
        assert run.rc == 0, run
        failed, listed = run.result["failed"], run.result["listed"]["deployments"]
        uuid = failed["deployment"]["uuid"]
        raw = requests.get("%s%s%s/logs" % (sim.url, DEPLOYMENTS, uuid), headers={"Authorization": "Token " + TOKEN},
                           timeout=10).json()["logs"]
    # The log really quotes the value JSON-escaped, repr-quoted, percent-encoded (+ and %20 with lower-case hex),
    # in base64 alone and after 0, 1 and 2 bytes of a user name.
    quoted = {json.dumps(HOSTILE)[1:-1], repr(HOSTILE)[1:-1], quote_plus(HOSTILE, safe=""), lower_hex(quote(HOSTILE, safe="")),
              base64.b64encode(HOSTILE.encode("utf-8")).decode()}
    assert set(leaks(raw, HOSTILE)) == quoted | {"base64 inside a longer text"}
    assert sum(base64.b64encode(user + HOSTILE.encode("utf-8")).decode() in raw for user in (b"ci:", b"deploy:", b"root:")) == 3
    assert failed["error"] == "DeploymentFailed" and failed["log_tail"][-1] == "Deployment failed"
    assert [entry["uuid"] for entry in listed][:1] == [uuid] and len(listed) == 3
    tail = "\n".join(failed["log_tail"])
    for text in (tail, listed[0]["logs"]):
        assert "settings: {\"SECRET_KEY\": \"********\"}" in text and "Authorization: Basic " in text
        assert "connecting to smtp://mailer:********@smtp.simulator.invalid:587" in text
    for text in (run.output, json.dumps(run.result), json.dumps(run.result, ensure_ascii=False), tail, failed["msg"]):
        assert leaks(text, HOSTILE) == []
        assert TOKEN not in text
