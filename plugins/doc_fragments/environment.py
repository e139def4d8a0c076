# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The two options that name one environment, as resources.get_application / get_environment look them up.
    # A module that reads every environment when none is named overrides environment's description and
    # sets required: false.
    DOCUMENTATION = r"""
options:
  application:
    description: The application, by slug or by id. It is looked up as a slug first and read by id only when no application has that slug.
    type: str
    required: true
  environment:
    description:
      - Environment slug, for example V(live) or V(test).
      - An environment the application does not have fails the task, naming the ones it has.
    type: str
    required: true
"""
