"""Connection options: token precedence, netrc lookup, URL / zone / timeout validation."""

import netrc

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.connection import (
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
    assert settings.sources == {
        "api_token": "netrc %s (machine api.divio.com)" % full_netrc,
        "api_url": "default",
        "zone": "default",
        "validate_certs": "the validate_certs option",
        "timeout": "the DIVIO_TIMEOUT environment variable",
    }
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
