"""Golden copies of what users read from the gate: gate_result.json per outcome and the backup_gate_result fact.

tests/integration/golden/*.json were captured from the Jinja versions of gate_deployment.yml and the backup_gate
role (commit 7069ca3), by the same tests, before the outcome moved to Python. ``normalize`` masks what changes
from run to run (ids, times, ages, a running deployment's percent), so every field and every other value must be
exactly as it was.
"""

import json
import re
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
_VARYING_NUMBERS = ("started", "finished", "age_seconds", "percent")
_TEXT = [
    (re.compile(r"\b[a-z2-7]{26}\b"), "<id>"),
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<time>"),
    (re.compile(r"\bis \S+ old\b"), "is <age> old"),
    (re.compile(r"\(\S+ old, "), "(<age> old, "),
    (re.compile(r"\b\d+% done"), "<n>% done"),
    (re.compile(r"\b127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"\bGET /\S+: "), "GET <path>: "),  # the paginator's query strings are not this golden's business
]


def normalize(value, key=None):
    if isinstance(value, dict):
        return dict((k, normalize(v, k)) for k, v in value.items())
    if isinstance(value, list):
        return [normalize(item) for item in value]
    if key in _VARYING_NUMBERS and isinstance(value, int) and not isinstance(value, bool):
        return "<int>"
    if key == "age" and isinstance(value, str):
        return "<age>"
    if isinstance(value, str):
        for pattern, mask in _TEXT:
            value = pattern.sub(mask, value)
    return value


def load(name):
    return json.loads((GOLDEN / name).read_text())


def check(name, key, value):
    """``value`` (normalized) is the golden one; the key order of dicts counts too."""
    golden = load(name)[key]
    got = normalize(value)
    assert got == golden, (key, got, golden)
    assert json.dumps(got) == json.dumps(golden), (key, "key order differs")
