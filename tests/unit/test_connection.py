"""Connection options: token precedence, netrc lookup, URL / zone / timeout validation."""

import netrc

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.connection import (
    CONNECTION_OPTION_NAMES,
    CONNECTION_OPTIONS,
    DEFAULT_TIMEOUT,
    ConnectionSettings,
    normalize_api_url,
    resolve_connection,
)
from ansible_collections.divio.cloud.plugins.module_utils.errors import ConfigurationError

OPTION_TOKEN = "opt-sekrit-1111"
ENV_TOKEN = "env-sekrit-2222"
API_TOKEN = "api-sekrit-3333"
CONTROL_TOKEN = "control-sekrit-4444"
DEFAULT_BASE = "https://api.divio.com"


@pytest.fixture
def write_netrc(tmp_path):
    """``write_netrc(text, name="netrc")`` writes a netrc file (mode 0600) and returns its path."""

    def write(text, name="netrc"):
        path = tmp_path / name
        path.write_text(text)
        path.chmod(0o600)
        return path

    return write


def netrc_line(machine, token):
    return "machine %s login someone@example.com password %s\n" % (machine, token)


def resolve(environ=None, **options):
    return resolve_connection(options, environ=environ or {})


# -- token precedence -------------------------------------------------------------------------

@pytest.fixture
def full_netrc(write_netrc):
    return write_netrc(netrc_line("control.divio.com", CONTROL_TOKEN) + netrc_line("api.divio.com", API_TOKEN))


def test_option_beats_env_and_netrc(full_netrc):
    settings = resolve({"DIVIO_API_TOKEN": ENV_TOKEN, "NETRC_PATH": str(full_netrc)}, api_token=OPTION_TOKEN)
    assert settings.token == OPTION_TOKEN
    assert settings.token_source == "the api_token option"


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_env_beats_netrc_when_option_unset_or_blank(full_netrc, blank):
    settings = resolve({"DIVIO_API_TOKEN": ENV_TOKEN, "NETRC_PATH": str(full_netrc)}, api_token=blank)
    assert settings.token == ENV_TOKEN
    assert "DIVIO_API_TOKEN" in settings.token_source


def test_netrc_api_entry_beats_control_entry(full_netrc):
    settings = resolve({"NETRC_PATH": str(full_netrc), "DIVIO_API_TOKEN": "  "})
    assert settings.token == API_TOKEN
    assert str(full_netrc) in settings.token_source
    assert "machine api.divio.com" in settings.token_source


def test_netrc_control_entry_is_the_fallback(write_netrc):
    path = write_netrc(netrc_line("control.divio.com", CONTROL_TOKEN) + netrc_line("api.other.example", API_TOKEN))
    settings = resolve({"NETRC_PATH": str(path)})
    assert settings.token == CONTROL_TOKEN
    assert "machine control.divio.com" in settings.token_source


def test_netrc_default_entry_does_not_shadow_control_entry(write_netrc):
    """A ``default`` entry (another service's password) must not be taken for machine api.<zone>."""
    path = write_netrc(netrc_line("control.divio.com", CONTROL_TOKEN)
                       + "default login anonymous password other-service-sekrit\n")
    settings = resolve({"NETRC_PATH": str(path)})
    assert settings.token == CONTROL_TOKEN


def test_netrc_entries_follow_the_zone(write_netrc):
    path = write_netrc(netrc_line("control.divio.com", CONTROL_TOKEN) + netrc_line("control.example.org", API_TOKEN))
    settings = resolve({"NETRC_PATH": str(path)}, zone="example.org")
    assert settings.base_url == "https://api.example.org"
    assert settings.token == API_TOKEN


def test_netrc_entry_of_the_bare_host_for_api_url(write_netrc):
    path = write_netrc(netrc_line("control.divio.com", CONTROL_TOKEN) + netrc_line("127.0.0.1", API_TOKEN))
    settings = resolve({"NETRC_PATH": str(path)}, api_url="http://127.0.0.1:8000")
    assert settings.token == API_TOKEN
    assert "machine 127.0.0.1" in settings.token_source


def test_home_netrc_is_used_without_netrc_path(isolated_env):
    (isolated_env / ".netrc").write_text(netrc_line("api.divio.com", API_TOKEN))
    (isolated_env / ".netrc").chmod(0o600)
    assert resolve({}).token == API_TOKEN


def test_no_token_anywhere_names_all_three_ways(write_netrc):
    path = write_netrc(netrc_line("unrelated.example", API_TOKEN))
    with pytest.raises(ConfigurationError) as info:
        resolve({"NETRC_PATH": str(path)})
    message = str(info.value)
    for way in ("api_token", "DIVIO_API_TOKEN", "netrc", "api.divio.com", "control.divio.com"):
        assert way in message


def test_missing_netrc_file_is_no_error_when_a_token_is_elsewhere(tmp_path):
    settings = resolve({"NETRC_PATH": str(tmp_path / "absent"), "DIVIO_API_TOKEN": ENV_TOKEN})
    assert settings.token == ENV_TOKEN


# -- malformed tokens -------------------------------------------------------------------------

@pytest.mark.parametrize("token", [
    "sekrit-a sekrit-b", "sekrit-a\n", "sekrit-a\tsekrit-b", "sekrit\r\n", "\nsekrit", "s\u00e9krit",
])
@pytest.mark.parametrize("where", ["option", "env"])
def test_token_with_whitespace_is_rejected_without_showing_it(token, where):
    options, environ = ({"api_token": token}, {}) if where == "option" else ({}, {"DIVIO_API_TOKEN": token})
    with pytest.raises(ConfigurationError) as info:
        resolve_connection(options, environ=environ)
    message = str(info.value)
    assert "sekrit" not in message and "krit" not in message
    assert ("api_token" if where == "option" else "DIVIO_API_TOKEN") in message


def test_netrc_token_with_space_is_rejected_naming_the_file(write_netrc):
    path = write_netrc('machine api.divio.com login me password "sekrit-a sekrit-b"\n')
    with pytest.raises(ConfigurationError) as info:
        resolve({"NETRC_PATH": str(path)})
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", [
    "sekrit-toplevel-5555 machine api.divio.com\n",
    "machine api.divio.com login me sekrit-follower-6666\n",
])
def test_corrupt_netrc_names_the_file_but_not_its_contents(write_netrc, content):
    path = write_netrc(content)
    with pytest.raises(netrc.NetrcParseError) as parser_error:  # the parser itself quotes the token ...
        netrc.netrc(str(path))
    assert "sekrit" in str(parser_error.value)
    with pytest.raises(ConfigurationError) as info:  # ... our message must not
        resolve({"NETRC_PATH": str(path)})
    assert str(path) in str(info.value)
    assert "sekrit" not in str(info.value)


def test_settings_repr_hides_the_token():
    settings = resolve(api_token=OPTION_TOKEN)
    assert OPTION_TOKEN not in repr(settings)
    assert "api_token option" in repr(settings)
    direct = ConnectionSettings(DEFAULT_BASE, OPTION_TOKEN, "somewhere")
    assert OPTION_TOKEN not in repr(direct) and OPTION_TOKEN not in str(direct)


# -- base URL ---------------------------------------------------------------------------------

@pytest.mark.parametrize("api_url", [
    "api.divio.com",                          # no scheme
    "localhost:8000",                         # parsed as scheme "localhost"
    "ftp://api.divio.com",
    "https://",
    "https://api.divio.com/apps/v3/",         # a path
    "https://api.divio.com/?page=1",          # a query
    "https://api.divio.com/#top",
    "https://api.divio.com:abc",              # bad port
    "https://api.divio.com:99999",
])
def test_bad_api_url_is_rejected_naming_it(api_url):
    with pytest.raises(ConfigurationError) as info:
        resolve(api_url=api_url, api_token=OPTION_TOKEN)
    assert api_url in str(info.value)
    assert "api_url" in str(info.value)


@pytest.mark.parametrize("api_url", ["https://user:pa55word@api.divio.com", "https://user@api.divio.com"])
def test_credentials_in_api_url_are_rejected_without_echoing_them(api_url):
    with pytest.raises(ConfigurationError) as info:
        resolve(api_url=api_url, api_token=OPTION_TOKEN)
    message = str(info.value)
    assert "api_url 'https://***@api.divio.com' is not valid: credentials in the URL are not supported" in message
    assert "pa55word" not in message and "user@" not in message


@pytest.mark.parametrize("api_url, expected", [
    ("https://api.divio.com", "https://api.divio.com"),
    ("https://api.divio.com/", "https://api.divio.com"),
    (" http://127.0.0.1:8000 ", "http://127.0.0.1:8000"),
    ("http://LocalHost:8000/", "http://localhost:8000"),
    ("http://[::1]:8000", "http://[::1]:8000"),
    ("https://[::1]", "https://[::1]"),
])
def test_api_url_is_normalized(api_url, expected):
    assert normalize_api_url(api_url) == expected


def test_api_url_beats_zone():
    settings = resolve({"DIVIO_ZONE": "env.example"}, api_url="http://127.0.0.1:8000", zone="option.example",
                       api_token=OPTION_TOKEN)
    assert settings.base_url == "http://127.0.0.1:8000"


def test_api_url_env_is_used_when_option_unset():
    settings = resolve({"DIVIO_API_URL": "http://127.0.0.1:9000/"}, api_token=OPTION_TOKEN)
    assert settings.base_url == "http://127.0.0.1:9000"


def test_api_url_option_beats_env():
    settings = resolve({"DIVIO_API_URL": "http://127.0.0.1:9000"}, api_url="http://127.0.0.1:8000",
                       api_token=OPTION_TOKEN)
    assert settings.base_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize("options, environ, expected", [
    ({}, {}, "https://api.divio.com"),
    ({"zone": "example.org"}, {}, "https://api.example.org"),
    ({"zone": " Example.ORG "}, {}, "https://api.example.org"),
    ({}, {"DIVIO_ZONE": "env.example"}, "https://api.env.example"),
    ({"zone": "option.example"}, {"DIVIO_ZONE": "env.example"}, "https://api.option.example"),
    ({"zone": ""}, {"DIVIO_ZONE": "env.example"}, "https://api.env.example"),
    ({"zone": "http://127.0.0.1:8000"}, {}, "http://127.0.0.1:8000"),
    ({"zone": "https://api.example.org/"}, {}, "https://api.example.org"),
])
def test_zone_gives_the_api_host(options, environ, expected):
    assert resolve(environ, api_token=OPTION_TOKEN, **options).base_url == expected


@pytest.mark.parametrize("zone", ["divio", "divio.com/", "-divio.com", "divio..com", "divio com", "divio.com:8000",
                                  "https://divio.com/path"])
def test_bad_zone_is_rejected_naming_it(zone):
    with pytest.raises(ConfigurationError) as info:
        resolve(zone=zone, api_token=OPTION_TOKEN)
    assert zone in str(info.value)


# -- timeout and validate_certs ---------------------------------------------------------------

@pytest.mark.parametrize("timeout", [0, -1, -0.5, "0", "abc", "", float("nan"), [5]])
def test_bad_timeout_is_rejected(timeout):
    with pytest.raises(ConfigurationError) as info:
        resolve(timeout=timeout, api_token=OPTION_TOKEN)
    assert "timeout %s" % (timeout,) in str(info.value).replace("'", "")
    assert "greater than 0" in str(info.value)


@pytest.mark.parametrize("timeout, expected", [(None, DEFAULT_TIMEOUT), (5, 5.0), ("2.5", 2.5), (0.1, 0.1)])
def test_timeout_values(timeout, expected):
    settings = resolve(timeout=timeout, api_token=OPTION_TOKEN)
    assert settings.timeout == expected
    assert isinstance(settings.timeout, float)


@pytest.mark.parametrize("value, expected", [(None, True), (True, True), (False, False)])
def test_validate_certs(value, expected):
    assert resolve(validate_certs=value, api_token=OPTION_TOKEN).validate_certs is expected


def test_credentials_are_hidden_even_when_the_url_does_not_parse():
    with pytest.raises(ConfigurationError) as info:
        resolve(api_url="https://me:SUPERSECRET@api.divio.com:abc", api_token=OPTION_TOKEN)
    assert "SUPERSECRET" not in str(info.value) and "https://***@api.divio.com:abc" in str(info.value)


# -- one set of environment variables for modules and plugins; sources ---------------------------

@pytest.mark.parametrize("variable, value, attribute, expected", [
    ("DIVIO_TIMEOUT", "2.5", "timeout", 2.5),
    ("DIVIO_VALIDATE_CERTS", "false", "validate_certs", False),
    ("DIVIO_VALIDATE_CERTS", "No", "validate_certs", False),
    ("DIVIO_VALIDATE_CERTS", "yes", "validate_certs", True),
    ("DIVIO_API_URL", "http://127.0.0.1:9000", "base_url", "http://127.0.0.1:9000"),
    ("DIVIO_ZONE", "example.org", "base_url", "https://api.example.org"),
])
def test_every_option_falls_back_to_its_environment_variable(variable, value, attribute, expected):
    settings = resolve({variable: value}, api_token=OPTION_TOKEN)
    assert getattr(settings, attribute) == expected
    option = variable[len("DIVIO_"):].lower()
    assert settings.sources[option] == "the %s environment variable" % variable


@pytest.mark.parametrize("option, value, variable, env_value, attribute, expected", [
    ("timeout", 7, "DIVIO_TIMEOUT", "2.5", "timeout", 7.0),
    ("validate_certs", True, "DIVIO_VALIDATE_CERTS", "false", "validate_certs", True),
    ("validate_certs", False, "DIVIO_VALIDATE_CERTS", "true", "validate_certs", False),
])
def test_the_option_beats_its_environment_variable(option, value, variable, env_value, attribute, expected):
    settings = resolve({variable: env_value}, api_token=OPTION_TOKEN, **{option: value})
    assert getattr(settings, attribute) == expected
    assert settings.sources[option] == "the %s option" % option


def test_sources_say_where_every_value_came_from(full_netrc):
    settings = resolve({"DIVIO_TIMEOUT": "9", "NETRC_PATH": str(full_netrc)}, validate_certs=False)
    expected = dict((name, "default") for name in CONNECTION_OPTION_NAMES)
    expected.update({
        "api_token": "netrc %s (machine api.divio.com)" % full_netrc,
        "validate_certs": "the validate_certs option",
        "timeout": "the DIVIO_TIMEOUT environment variable",
    })
    assert settings.sources == expected
    assert settings.token_source == settings.sources["api_token"]


def test_origins_handed_in_by_a_plugin_name_the_source():
    settings = resolve_connection({"api_token": OPTION_TOKEN, "timeout": 3.0},
                                  environ={}, origins={"api_token": "the divio_api_token variable",
                                                       "timeout": "the DIVIO_TIMEOUT environment variable"})
    assert settings.token_source == "the divio_api_token variable"
    assert settings.sources["timeout"] == "the DIVIO_TIMEOUT environment variable"


@pytest.mark.parametrize("variable, value, expected", [
    ("DIVIO_TIMEOUT", "soon", "timeout 'soon' from the DIVIO_TIMEOUT environment variable is not valid: "
                              "expected a number of seconds greater than 0"),
    ("DIVIO_TIMEOUT", "-1", "timeout '-1' from the DIVIO_TIMEOUT environment variable is not valid"),
    ("DIVIO_VALIDATE_CERTS", "maybe", "validate_certs 'maybe' from the DIVIO_VALIDATE_CERTS environment variable "
                                      "is not valid: expected true or false"),
])
def test_a_bad_environment_value_names_the_variable(variable, value, expected):
    with pytest.raises(ConfigurationError) as info:
        resolve({variable: value}, api_token=OPTION_TOKEN)
    assert expected in str(info.value)


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_environment_variable_counts_as_unset(blank):
    settings = resolve({"DIVIO_TIMEOUT": blank, "DIVIO_VALIDATE_CERTS": blank, "DIVIO_API_URL": blank},
                       api_token=OPTION_TOKEN)
    assert (settings.timeout, settings.validate_certs, settings.base_url) == (DEFAULT_TIMEOUT, True, DEFAULT_BASE)
    assert settings.sources["timeout"] == "default"


# -- limits (issue 14): defaults, sources, validation before any request --------------------------------

LIMITS = {"retries": 6, "deadline": None, "allow_plain_http": False, "max_response_bytes": 32 * 1024 * 1024,
          "max_pages": 20000, "max_items": 1000000, "max_concurrency": 8}


def test_limits_have_their_documented_defaults():
    settings = resolve(api_token=OPTION_TOKEN)
    assert dict((name, getattr(settings, name)) for name in LIMITS) == LIMITS
    assert all(settings.sources[name] == "default" for name in LIMITS)
    direct = ConnectionSettings(DEFAULT_BASE, OPTION_TOKEN, "somewhere")  # what client tests build
    assert dict((name, getattr(direct, name)) for name in LIMITS) == LIMITS


@pytest.mark.parametrize("name, option_value, env_value, expected_from_env", [
    ("retries", 2, "3", 3),
    ("deadline", 90, "120.5", 120.5),
    ("allow_plain_http", True, "true", True),
    ("max_response_bytes", 1000, "2048", 2048),
    ("max_pages", 5, "7", 7),
    ("max_items", 50, "70", 70),
    ("max_concurrency", 1, "4", 4),
])
def test_limits_come_from_the_option_else_the_environment(name, option_value, env_value, expected_from_env):
    variable = "DIVIO_" + name.upper()
    from_option = resolve({variable: env_value}, api_token=OPTION_TOKEN, **{name: option_value})
    assert getattr(from_option, name) == option_value
    assert from_option.sources[name] == "the %s option" % name
    from_env = resolve({variable: env_value}, api_token=OPTION_TOKEN)
    assert getattr(from_env, name) == expected_from_env
    assert from_env.sources[name] == "the %s environment variable" % variable


def test_numbers_as_ansible_hands_them_over_are_accepted():
    settings = resolve(api_token=OPTION_TOKEN, retries=3.0, max_pages="12", timeout="1.5", deadline=5)
    assert (settings.retries, settings.max_pages, settings.timeout, settings.deadline) == (3, 12, 1.5, 5.0)
    assert isinstance(settings.retries, int) and isinstance(settings.deadline, float)


BAD_NUMBERS = [
    ("timeout", float("inf"), "a number of seconds greater than 0 and at most 3600"),
    ("timeout", "inf", "a number of seconds greater than 0"),
    ("timeout", "NaN", "a number of seconds greater than 0"),
    ("timeout", 1e9, "at most 3600"),
    ("timeout", True, "a number of seconds"),
    ("deadline", 0, "a number of seconds greater than 0 and at most 86400"),
    ("deadline", -60, "greater than 0"),
    ("deadline", float("nan"), "greater than 0"),
    ("deadline", float("-inf"), "greater than 0"),
    ("deadline", 10 ** 7, "at most 86400"),
    ("retries", 0, "a whole number of tries from 1 (no retry) to 100"),
    ("retries", -1, "a whole number of tries"),
    ("retries", 1.5, "a whole number of tries"),
    ("retries", 10 ** 6, "to 100"),
    ("retries", float("inf"), "a whole number of tries"),
    ("retries", "six", "a whole number of tries"),
    ("retries", False, "a whole number of tries"),
    ("max_response_bytes", 0, "a whole number of bytes from 1 to 1073741824"),
    ("max_response_bytes", 2 ** 40, "to 1073741824"),
    ("max_pages", -5, "a whole number of pages from 1 to 10000000"),
    ("max_pages", float("nan"), "a whole number of pages"),
    ("max_items", 0, "a whole number of items from 1 to 1000000000"),
    ("max_items", 10 ** 12, "to 1000000000"),
    ("max_concurrency", 0, "a whole number of requests from 1 to 64"),
    ("max_concurrency", 10000, "to 64"),
    ("allow_plain_http", "sometimes", "true or false"),
    ("validate_certs", 2, "true or false"),
]


@pytest.mark.parametrize("name, value, expected", BAD_NUMBERS, ids=lambda v: repr(v)[:30])
def test_bad_limits_are_rejected_naming_option_and_value(name, value, expected):
    with pytest.raises(ConfigurationError) as info:
        resolve(api_token=OPTION_TOKEN, **{name: value})
    assert str(info.value).startswith("%s %r is not valid: expected " % (name, value))
    assert expected in str(info.value)


@pytest.mark.parametrize("name, value", [("retries", "0"), ("deadline", "inf"), ("max_concurrency", "-2"),
                                         ("max_response_bytes", "1e3"), ("timeout", "nan")])
def test_bad_limits_from_the_environment_name_the_variable(name, value):
    variable = "DIVIO_" + name.upper()
    with pytest.raises(ConfigurationError) as info:
        resolve({variable: value}, api_token=OPTION_TOKEN)
    assert str(info.value).startswith("%s %r from the %s environment variable is not valid: expected "
                                      % (name, value, variable))


def test_bad_values_handed_in_by_a_plugin_name_their_origin():
    with pytest.raises(ConfigurationError) as info:
        resolve_connection({"api_token": OPTION_TOKEN, "retries": 0}, environ={},
                           origins={"retries": "the divio_retries variable"})
    assert str(info.value).startswith("retries 0 from the divio_retries variable is not valid")


# -- api_url: characters, schemes, credentials --------------------------------------------------

@pytest.mark.parametrize("api_url, problem", [
    ("http://127.0.0.1:80 00", "it contains a space (U+0020) at character 20"),
    ("https://api.divio .com", "it contains a space (U+0020) at character 18"),
    ("http://127.0.0.1:8000\n", "it contains the control character U+000A at character 22"),
    ("http://127.0.0.1:80\t00", "it contains the control character U+0009 at character 20"),
    ("http://127.0.0.1\r:8000", "it contains the control character U+000D at character 17"),
    ("\thttp://127.0.0.1:8000", "it contains the control character U+0009 at character 1"),
    ("http://127.0.0.1\x00:8000", "it contains the control character U+0000 at character 17"),
    ("https://api.divio.com\x7f", "it contains the control character U+007F at character 22"),
    ("https://api.divio.com\u00a0", "it contains a space (U+00A0) at character 22"),
])
def test_api_url_with_spaces_or_control_characters_fails_naming_the_problem(api_url, problem):
    """A URL parser drops tabs and line breaks silently (``80\\t00`` would become port 8000): refuse instead."""
    with pytest.raises(ConfigurationError) as info:
        resolve(api_url=api_url, api_token=OPTION_TOKEN)
    assert "api_url %r is not valid: %s." % (api_url, problem) in str(info.value)


def test_api_url_from_the_environment_names_the_variable():
    with pytest.raises(ConfigurationError) as info:
        resolve({"DIVIO_API_URL": "http://127.0.0.1:8000\n"}, api_token=OPTION_TOKEN)
    assert "api_url 'http://127.0.0.1:8000\\n' from the DIVIO_API_URL environment variable is not valid: " \
           "it contains the control character U+000A" in str(info.value)


@pytest.mark.parametrize("api_url, scheme", [("ftp://api.divio.com", "ftp"), ("file:///etc/passwd", "file"),
                                             ("HTTPX://api.divio.com", "HTTPX"), ("ws://127.0.0.1:8000", "ws")])
def test_unsupported_scheme_is_named(api_url, scheme):
    with pytest.raises(ConfigurationError) as info:
        resolve(api_url=api_url, api_token=OPTION_TOKEN)
    assert "it needs an http:// or https:// scheme, not %s://" % scheme in str(info.value)


# Every password holds the leak marker (the autouse leak_guard fails the test if any error quotes it).
CREDENTIAL_URLS = [
    "https://user:sekrit@api.divio.com",
    "https://user:se@krit-sekrit@api.divio.com",          # @ in the password
    "https://user:se/krit-sekrit@api.divio.com",          # / ends the netloc for a parser
    "https://user:se#krit-sekrit@api.divio.com",          # # starts a fragment for a parser
    "https://user:se?krit-sekrit@api.divio.com",          # ? starts a query for a parser
    "https://user:se%40krit-sekrit@api.divio.com",        # percent-encoded @
    "https://user:se%2Fkrit%sekrit@api.divio.com",        # percent-encoded / and a bare %
    "https://user%3Asekrit@api.divio.com",                # encoded colon: all of it in the user name
    "https://sekrit@api.divio.com:abc",                   # unparsable port
    "https://user:se krit-sekrit@api.divio.com",          # a space
    "https://user:se\nkrit-sekrit@api.divio.com",         # a control character
    "http://user:sekrit@api.example.com",                 # plain http to a remote host too
    "ftp://user:sekrit@api.divio.com",                    # unsupported scheme too
    "user:sekrit@api.divio.com",                          # no scheme at all
    "https://user:sekrit@api.divio.com/apps/v3/?x=1#y",   # path, query and fragment too
]


@pytest.mark.parametrize("api_url", CREDENTIAL_URLS)
@pytest.mark.parametrize("where", ["api_url", "DIVIO_API_URL", "zone"])
def test_credentials_in_the_url_are_never_shown(api_url, where):
    if where == "api_url":
        options, environ = {"api_url": api_url}, {}
    elif where == "DIVIO_API_URL":
        options, environ = {}, {"DIVIO_API_URL": api_url}
    else:
        options, environ = {"zone": api_url}, {}
    with pytest.raises(ConfigurationError) as info:
        resolve_connection(dict(options, api_token=OPTION_TOKEN), environ=environ)
    message = str(info.value)
    assert "sekrit" not in message and "krit" not in message and "user" not in message
    assert "***@" in message
    assert "api.divio.com" in message or "api.example.com" in message


# -- plain http ----------------------------------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to resolve a name or open a connection fails the test."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("a connection was attempted: %r" % (args,))

    for name in ("create_connection", "getaddrinfo", "gethostbyname"):
        monkeypatch.setattr(socket, name, refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.mark.parametrize("options, environ, option, host", [
    ({"api_url": "http://api.example.com"}, {}, "api_url", "api.example.com"),
    ({"api_url": "http://10.0.0.5:8000"}, {}, "api_url", "10.0.0.5"),
    ({"api_url": "http://[2001:db8::1]:8000"}, {}, "api_url", "2001:db8::1"),
    ({"api_url": "http://localhost.example.com"}, {}, "api_url", "localhost.example.com"),
    ({"api_url": "http://[::ffff:127.0.0.1]"}, {}, "api_url", "::ffff:127.0.0.1"),
    ({}, {"DIVIO_API_URL": "http://api.example.com"}, "api_url", "api.example.com"),
    ({"zone": "http://api.example.com"}, {}, "zone", "api.example.com"),
    ({"api_url": "http://api.example.com", "allow_plain_http": False}, {"DIVIO_ALLOW_PLAIN_HTTP": "true"},
     "api_url", "api.example.com"),
])
def test_plain_http_to_another_machine_is_refused_before_connecting(no_network, options, environ, option, host):
    from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient

    with pytest.raises(ConfigurationError) as info:
        DivioClient.from_options(dict(options, api_token=OPTION_TOKEN), environ=environ)
    message = str(info.value)
    assert message.startswith("%s " % option)
    assert "is refused: plain http:// would send the API token unencrypted to %s, which is not a loopback " \
           "address" % host in message
    assert "allow_plain_http: true" in message and "Nothing was sent" in message


@pytest.mark.parametrize("api_url", ["http://127.0.0.1:8000", "http://127.8.9.10", "http://[::1]:8000",
                                     "http://localhost:8000", "http://LOCALHOST"])
def test_plain_http_to_loopback_is_always_allowed(no_network, api_url):
    assert resolve(api_url=api_url, api_token=OPTION_TOKEN).base_url.startswith("http://")


@pytest.mark.parametrize("options, environ", [
    ({"allow_plain_http": True}, {}),
    ({}, {"DIVIO_ALLOW_PLAIN_HTTP": "true"}),
    ({}, {"DIVIO_ALLOW_PLAIN_HTTP": "1"}),
])
def test_plain_http_to_another_machine_when_allowed(no_network, options, environ):
    settings = resolve_connection(dict(options, api_url="http://api.example.com:8080", api_token=OPTION_TOKEN),
                                  environ=environ)
    assert settings.base_url == "http://api.example.com:8080"
    assert settings.allow_plain_http is True


def test_https_needs_no_permission(no_network):
    assert resolve(api_url="https://api.example.com", api_token=OPTION_TOKEN).allow_plain_http is False


# -- the netrc file: what is wrong with it is named -----------------------------------------------

def _no_token_error(environ):
    with pytest.raises(ConfigurationError) as info:
        resolve(environ)
    return str(info.value)


def test_missing_netrc_named_by_netrc_path_is_named(tmp_path):
    path = tmp_path / "absent" / "netrc"
    message = _no_token_error({"NETRC_PATH": str(path)})
    assert "no API token: the netrc file %s (named by NETRC_PATH) does not exist; fix NETRC_PATH" % path in message
    assert "DIVIO_API_TOKEN" in message


def test_netrc_path_that_is_a_folder_is_named(tmp_path):
    message = _no_token_error({"NETRC_PATH": str(tmp_path)})
    assert "the netrc file %s (named by NETRC_PATH) is a folder, not a file" % tmp_path in message


def test_home_netrc_that_is_a_folder_is_named(isolated_env):
    (isolated_env / ".netrc").mkdir()
    message = _no_token_error({})
    assert "the netrc file %s is a folder, not a file; fix it or remove it" % (isolated_env / ".netrc") in message


def test_netrc_path_that_is_a_fifo_is_named_without_blocking(tmp_path):
    import os

    path = tmp_path / "fifo"
    os.mkfifo(str(path))
    message = _no_token_error({"NETRC_PATH": str(path)})
    assert "the netrc file %s (named by NETRC_PATH) is not a regular file" % path in message


def test_netrc_path_that_cannot_be_read_is_named(tmp_path):
    """A symlink loop cannot be read by anyone, root included (unlike a file without read permission)."""
    loop_a, loop_b = tmp_path / "a", tmp_path / "b"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    message = _no_token_error({"NETRC_PATH": str(loop_a)})
    assert "the netrc file %s (named by NETRC_PATH) cannot be read (Too many levels of symbolic links)" % loop_a \
        in message


def test_netrc_without_read_permission_is_named(write_netrc):
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads files without read permission")
    path = write_netrc(netrc_line("api.divio.com", API_TOKEN))
    path.chmod(0)
    message = _no_token_error({"NETRC_PATH": str(path)})
    assert "the netrc file %s (named by NETRC_PATH) cannot be read (Permission denied)" % path in message


def test_a_netrc_problem_does_not_matter_when_the_token_is_elsewhere(tmp_path):
    settings = resolve({"NETRC_PATH": str(tmp_path), "DIVIO_API_TOKEN": ENV_TOKEN})
    assert settings.token == ENV_TOKEN


def test_every_table_option_is_a_settings_attribute():
    settings = resolve(api_token=OPTION_TOKEN)
    for option in CONNECTION_OPTIONS:
        if option.name not in ("api_token", "api_url", "zone"):
            assert getattr(settings, option.name) == option.default
    assert OPTION_TOKEN not in repr(settings) and "max_concurrency=8" in repr(settings)
