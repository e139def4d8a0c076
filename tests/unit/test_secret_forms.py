"""Masking a deployment's variable values in its log (``deployments.hide``): the value as written and every form a
build tool or library prints it in - JSON-escaped, repr-quoted, percent-encoded, base64 - for values holding the
characters that change under those encodings."""

import base64
import json
import re
from urllib.parse import quote, quote_plus, urlencode

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.deployments import hide, secrets_in
from ansible_collections.divio.cloud.plugins.module_utils.errors import MASK

# Quotes, backslashes, braces, spaces, @, +, /, =, non-ASCII (two-byte, three-byte, outside the BMP), a percent sign.
VALUES = [
    "p@ss word+1",
    "it's \"quoted\" {and} \\back\\slashed",
    "{{ lookup('pipe', 'id') }} 100%",
    "Z\u00fcrich na\u00efve \u2603 \U0001d11e",
    "a/b+c=d?e&f#g:h;i,j~k*l!m",
    "  leading and trailing spaces are stripped by secrets_in, the inner ones kept  ",
    "p@ss word+1 \"q\" 'x' \\b {{x}} Z\u00fcrich/\u00df",
]


def lower_hex(text):
    return re.sub("%[0-9A-F]{2}", lambda match: match.group(0).lower(), text)


def encodings(value):
    """``{name: text quoting value}``, each made by the encoder that would print it."""
    data = value.encode("utf-8")
    found = {
        "raw": "x=%s;" % value,
        "json": json.dumps({"KEY": value}),
        "json, non-ASCII kept": json.dumps({"KEY": value}, ensure_ascii=False),
        "json, slashes escaped": json.dumps({"KEY": value}).replace("/", "\\/"),
        "repr": repr({"KEY": value}),
        "repr of a list": repr([value]),
        "ascii": ascii(value),
        "repr of the bytes": repr(data),
        "quote": "https://u:%s@host/" % quote(value, safe=""),
        "quote, lower-case hex": "https://u:%s@host/" % lower_hex(quote(value, safe="")),
        "quote with / safe": "/path/%s" % quote(value),
        "quote_plus": "?key=%s&v=1" % quote_plus(value, safe=""),
        "quote_plus, lower-case hex": "?key=%s&v=1" % lower_hex(quote_plus(value, safe="")),
        "urlencode": urlencode({"key": value, "other": 1}),
        "base64 alone": "X-Key: %s" % base64.b64encode(data).decode(),
        "base64 alone, unpadded": "X-Key: %s." % base64.b64encode(data).decode().rstrip("="),
        "urlsafe base64": "token=%s" % base64.urlsafe_b64encode(data).decode(),
    }
    for user in (b"ci:", b"deploy:", b"root:"):  # the value after 0, 1 and 2 bytes (mod 3)
        found["basic auth after %r" % user] = "Authorization: Basic %s" % base64.b64encode(user + data).decode()
        found["base64 with text after, %r" % user] = base64.b64encode(user + data + b"@host:5432").decode()
    return found


def decodes_to(text, data):
    """Does any base64 run in ``text``, read from any of its first four characters, decode to bytes holding ``data``?"""
    for run in re.findall(r"[A-Za-z0-9+/_-]{4,}", text):
        for start in range(4):
            piece = run[start:]
            piece = piece[:len(piece) - len(piece) % 4]
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                try:
                    if data in decode(piece):
                        return True
                except ValueError:
                    pass
    return False


@pytest.mark.parametrize("value", VALUES)
def test_every_encoding_of_a_sensitive_value_is_masked(value):
    secrets = secrets_in({"SECRET_KEY": value})
    value = value.strip()
    for name, text in encodings(value).items():
        hidden = hide(text, secrets)
        assert MASK in hidden, name
        assert value not in hidden and json.dumps(value)[1:-1] not in hidden, (name, hidden)
        assert quote(value, safe="").lower() not in hidden.lower(), (name, hidden)
        assert not decodes_to(hidden, value.encode("utf-8")), (name, hidden)


@pytest.mark.parametrize("value", VALUES)
def test_a_value_is_masked_whole_in_a_line_of_every_form(value):
    value = value.strip()
    line = " | ".join(encodings(value).values())
    hidden = hide(line, secrets_in({"DATABASE_PASSWORD": value}))
    assert hidden.count(MASK) >= len(encodings(value))
    assert not decodes_to(hidden, value.encode("utf-8"))
    assert "Authorization: Basic " in hidden and "https://u:" in hidden  # the text around each value stays


def test_ordinary_text_and_short_values_stay_readable():
    secrets = secrets_in({"STAGE": "live", "DEBUG": "True", "PORT": 8000, "API_KEY": "abc", "NAME": "shop"})
    text = "stage live, debug True, port 8000, key abc, base64 of abc is YWJj, shop"
    # "abc" (a secret-named value of 3 characters) is masked as written; its 4-character base64 is too short to
    # tell from other text, so it stays; the other values are too short or too common to be secrets.
    assert hide(text, secrets) == "stage live, debug True, port 8000, key %s, base64 of %s is YWJj, shop" % (MASK, MASK)


def test_a_value_holding_another_is_hidden_whole():
    secrets = secrets_in({"DSN": "postgres://app:pw 1234@db/app", "DB_PASSWORD": "pw 1234"})
    assert hide("dsn=%s pw=%s" % (quote("postgres://app:pw 1234@db/app", safe=""), quote_plus("pw 1234")),
                secrets) == "dsn=%s pw=%s" % (MASK, MASK)
