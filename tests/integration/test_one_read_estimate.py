"""One cost estimate for one read of a whole list or a filtered listing per environment (issue 31): on a server that
ignores ``page_size`` the paginator reads plain pages twice, not overlapping windows, and once a read has shown that,
the estimate counts them so.

The demo data set (12 environments, 160 backups, 14 to 16 per environment) with ``?environment=`` honoured, pages of
at most 9 items: the first environment's filtered pass is 2 pages (a read that shows whether ``page_size`` is
ignored), then the plan for the other 11:
- ``page_size`` ignored: one pass is 2 x 18 = 36 requests, 11 filtered passes 11 x 2 x 2 = 44 - one pass;
- ``page_size`` honoured up to 9: one pass in overlapping windows is 29 requests, 11 filtered passes 11 x 2 = 22 -
  filtered (the estimate before issue 31 made this plan on both servers).
"""

import re

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient

from divio_simulator import run_simulator
from testlib import TOKEN


@pytest.mark.parametrize("config, filtered", [({"page_size_ignored": True, "default_page_size": 9}, 1),
                                              ({"max_page_size": 9}, 12)], ids=["page_size-ignored", "honoured"])
def test_the_plan_counts_the_reads_the_server_makes_possible(dataset, config, filtered):
    with run_simulator(dataset=dataset, token=TOKEN) as server:
        server.configure(**config)
        with DivioClient.from_options({"api_url": server.url, "api_token": TOKEN}, environ={}) as client:
            records, _summary = check_backups(client)
        paths = [path for _method, path, _status in server.requests if path.startswith("/apps/v3/backups/?")]
    assert len(records) == len(dataset.environments)
    # Environments read by a filtered pass: the first only when one pass over every backup was planned.
    assert len(set(re.findall(r"environment=([^&]+)", " ".join(paths)))) == filtered, paths
