"""plugin_utils.base on every supported ansible-core: the value and the origin of a plugin's connection option
are those Ansible applied - keyword argument, variable, environment or default. (ansible-core 2.16's own
get_option_and_origin ignores what set_options was given; the lookup then talked to the default URL.)"""

from ansible.plugins.loader import lookup_loader

import pytest


@pytest.fixture
def lookup(monkeypatch):
    for option in ("DIVIO_API_URL", "DIVIO_API_TOKEN", "DIVIO_TIMEOUT", "DIVIO_RETRIES"):
        monkeypatch.delenv(option, raising=False)
    found = lookup_loader.get("divio.cloud.divio")
    assert found is not None
    return found


def test_keyword_variable_environment_and_default_are_each_applied_and_named(lookup, monkeypatch):
    monkeypatch.setenv("DIVIO_TIMEOUT", "7")
    monkeypatch.setenv("DIVIO_API_URL", "http://127.0.0.9:1")
    lookup.set_options(var_options={"divio_api_url": "http://127.0.0.1:8000", "divio_retries": 2},
                       direct={"api_token": "kw-sekrit-token"})
    settings = lookup.divio_settings()
    assert settings.base_url == "http://127.0.0.1:8000"
    assert (settings.token, settings.retries, settings.timeout) == ("kw-sekrit-token", 2, 7.0)
    assert settings.sources["api_url"] == "the divio_api_url variable"
    assert settings.sources["retries"] == "the divio_retries variable"
    assert settings.sources["api_token"] == "the api_token option"
    assert settings.sources["timeout"] == "the DIVIO_TIMEOUT environment variable"
    assert settings.sources["max_pages"] == "default"


def test_a_bad_value_from_a_variable_is_refused_naming_the_variable(lookup):
    lookup.set_options(var_options={"divio_api_url": "http://127.0.0.1:80\t00"}, direct={"api_token": "t0ken"})
    with pytest.raises(Exception, match=r"api_url 'http://127.0.0.1:80\\t00' from the divio_api_url variable is not valid"):
        lookup.divio_settings()


def test_set_option_is_a_direct_setting(lookup):
    lookup.set_options(var_options={"divio_api_url": "http://127.0.0.1:8000"}, direct={"api_token": "t0ken"})
    lookup.set_option("api_url", "http://127.0.0.2:8000")
    assert lookup.get_option_and_origin("api_url") == ("http://127.0.0.2:8000", "Direct")
    assert lookup.divio_settings().sources["api_url"] == "the api_url option"
