# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # min_retention where it applies unconditionally (backup_info, backup_check), as backups.BackupRule applies it;
    # its default is backups.DEFAULT_MIN_RETENTION. Plugins where it depends on another option (backup's
    # only_if_older_than, the lookup's latest_backup term, the inventory's latest_backup) say so in their own text.
    DOCUMENTATION = r"""
options:
  min_retention:
    description:
      - A backup due for deletion (C(scheduled_for_deletion_at)) sooner than this from now does not count - the
        temporary backups C(divio app pull db) makes, deleted an hour later, are no restore point.
      - V(0) turns the rule off. Same forms as O(max_age).
    type: raw
    default: 24h
"""
