"""The rest of the seed's code run beside the library's fix (issue 15): each naive variant fails, the fix holds.

Named test_<problem>_naive_<bad outcome> / test_<problem>_library_<good outcome>, as in test_seed_bugs.py.
"""

import pytest

from whatsapp_cache.experiments.races import library_workers_out_of_order, naive_workers_out_of_order

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")


# Bug 9: two write-behind workers applying one user's updates out of order ------------------------

def test_bug09_order_naive_late_worker_leaves_the_database_with_the_older_update(world):
    timeline, in_database = naive_workers_out_of_order(world, "u000003")
    assert in_database == "first"                 # the older update won
    assert timeline[-1].cache == "'second'"       # while the cache shows the newer one
    assert [step.actor for step in timeline[-2:]] == ["worker 2", "worker 1"]


def test_bug09_order_library_late_worker_is_skipped_and_the_newer_update_stays(world):
    timeline, in_database = library_workers_out_of_order(world, "u000003")
    assert in_database == "second"
    assert timeline[-1].action.endswith("skipped") and timeline[-2].action.endswith("applied")
    assert timeline[-1].cache == "'second'"
