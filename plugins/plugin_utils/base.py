# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""What every controller-side plugin of divio.cloud (lookup, inventory) shares: options -> connection
settings -> client, and collection errors -> the plugin type's Ansible error.

Ansible itself reads a plugin option's ``env:``, ``ini:`` and ``vars:`` sources (the ``connection.plugins``
doc fragment declares them, from the option table); ``divio_settings`` hands the values it found to
``resolve_connection`` together with their origin, so messages say where a bad value or a rejected token
came from, and precedence and validation are those of the modules.
"""

import contextlib

from ansible import constants as C
from ansible.utils.display import Display

from ansible_collections.divio.cloud.plugins.module_utils.connection import CONNECTION_OPTIONS, env_source, option_source
from ansible_collections.divio.cloud.plugins.module_utils.errors import DivioError
from ansible_collections.divio.cloud.plugins.module_utils.session import client_session, failure_of, settings_from


def describe_origin(option, origin):
    """Ansible's origin of a plugin option value, in the words our messages use (None: not set).

    Origins are ``Direct`` (keyword argument / set_options), ``var: <name>``, ``env: <NAME>``,
    ``keyword: <name>``, ``cli: <name>``, ``default``, or the path of the ansible.cfg that held it.
    """
    if origin in (None, "", "default"):
        return None
    if origin == "Direct":
        return option_source(option.name)
    for prefix, words in (("var: ", "the %s variable"), ("keyword: ", "the %s keyword"),
                          ("cli: ", "the %s command line option")):
        if origin.startswith(prefix):
            return words % origin[len(prefix):]
    if origin.startswith("env: "):
        return env_source(origin[len("env: "):])
    return "the %s setting of the [%s] section in %s" % (option.ini_key, option.INI_SECTION, origin)


class DivioPlugin:
    """Mixin for ``LookupBase`` and ``BaseInventoryPlugin`` subclasses whose documentation extends
    ``divio.cloud.connection`` and ``divio.cloud.connection.plugins``; it must come first among the bases
    (its option methods wrap Ansible's). Options must be set (``set_options`` or ``_read_config_data``)
    before these are called."""

    # ansible-core 2.16's get_option_and_origin ignores what set_options / set_option were given (keyword
    # arguments, variables, the inventory source file) and answers from the environment, ansible.cfg and
    # defaults alone - for the value too. 2.17+ keep each option's origin in self._origins; on 2.16 these
    # three methods keep it in self._divio_origins, so the value and origin are those Ansible applied.

    def _divio_core_keeps_origins(self):
        return hasattr(self, "_origins")

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        if not self._divio_core_keeps_origins():
            self._divio_origins = dict(
                (name, C.config.get_config_value_and_origin(
                    name, plugin_type=self.plugin_type, plugin_name=self._load_name, keys=task_keys,
                    variables=var_options, direct=direct)[1])
                for name in self._options)

    def set_option(self, option, value):
        super().set_option(option, value)
        if not self._divio_core_keeps_origins():
            self.__dict__.setdefault("_divio_origins", {})[option] = "Direct"

    def get_option_and_origin(self, option, hostvars=None):
        if self._divio_core_keeps_origins():
            return super().get_option_and_origin(option, hostvars=hostvars)
        origins = self.__dict__.setdefault("_divio_origins", {})
        if option not in self._options or option not in origins:
            # Never set: what Ansible's own lookup finds (it raises KeyError for an unknown option).
            value, origin = super().get_option_and_origin(option, hostvars=hostvars)
            self._options.setdefault(option, value)
            origins.setdefault(option, origin)
        return self._options[option], origins[option]

    def divio_settings(self):
        """``ConnectionSettings`` from this plugin's connection options (raises ``ConfigurationError``)."""
        options, origins = {}, {}
        for option in CONNECTION_OPTIONS:
            value, origin = self.get_option_and_origin(option.name)
            options[option.name] = value
            described = describe_origin(option, origin)
            if described:
                origins[option.name] = described
        return settings_from(options, origins=origins)

    def divio_client(self, **kwargs):
        """A ``DivioClient`` for this plugin's settings, in a ``with`` block that shows the warnings of its look-ups
        (a slug that named several objects) when it ends; ``kwargs`` go to ``client_session`` (cache=...)."""
        return client_session(self.divio_settings(), Display().warning, **kwargs)

    @contextlib.contextmanager
    def divio_errors(self, error_class):
        """Turn a ``DivioError`` (whose message is the modules' own) into ``error_class``, without the
        collection's traceback: the message says everything the user can act on."""
        try:
            yield
        except DivioError as exc:
            raise error_class(failure_of(exc)[0]) from None
