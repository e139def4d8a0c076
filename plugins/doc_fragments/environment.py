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
    description:
      - The application, by slug or by id. It is looked up as a slug first and read by id only when no application has
        that slug.
      - A slug that several applications have (in two organisations, say) is a warning naming every match, and the
        first the API lists is used; a task that changes something (M(divio.cloud.backup),
        M(divio.cloud.deployment), M(divio.cloud.backup_restore)) fails instead, before sending anything, and asks
        for the id.
    type: str
    required: true
  environment:
    description:
      - Environment slug, for example V(live) or V(test), or the environment's id (tried when no environment has that
        slug).
      - An environment the application does not have fails the task, naming the ones it has.
      - A slug that several environments of the application have is a warning naming every match (the first is used),
        or, in a task that changes something, a failure asking for the id.
    type: str
    required: true
"""
