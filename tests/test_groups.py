"""Group members: a set per group (6 h), complete or absent, never partial; empty groups cached too."""

import pytest

from support import GROUP, HOUR, OUTSIDER, SECOND, counts

from whatsapp_cache import InvalidInput, NotFound


def db_members(world, group_id=GROUP) -> set[str]:
    return set(world.repo.group_members(group_id))


def test_members_match_the_database(world):
    assert world.groups.members(GROUP) == db_members(world)
    assert len(db_members(world)) == 14


def test_first_read_misses_with_one_query_then_hits(world):
    world.groups.members(GROUP)
    world.groups.members(GROUP)
    c = counts(world, "groups")
    assert (c.misses, c.hits, c.db_queries) == (1, 1, 1)
    assert c.round_trips == 4, "miss = read + generation + atomic fill; hit = one command"


def test_the_marker_is_not_a_member(world):
    world.groups.members(GROUP)
    assert not [m for m in world.groups.members(GROUP) if m.startswith("~")]


def test_entry_expires_after_six_hours_on_the_simulated_clock(world):
    world.groups.members(GROUP)
    world.clock.advance(6 * HOUR - 1)
    world.groups.members(GROUP)
    world.clock.advance(1)
    world.groups.members(GROUP)
    c = counts(world, "groups")
    assert (c.misses, c.hits) == (2, 1)


def test_changed_ttl_applies_to_new_entries(world):
    world.ttls = world.ttls.with_(groups=10)
    world.groups.members(GROUP)
    world.clock.advance(10 * SECOND)
    world.groups.members(GROUP)
    assert counts(world, "groups").misses == 2
    assert 0 < world.redis.pttl(world.keys.group_members(GROUP).data) <= 10 * SECOND


def test_added_member_is_reflected_without_a_new_fill(world):
    world.groups.members(GROUP)
    assert world.groups.add_member(GROUP, OUTSIDER) is True
    assert world.groups.members(GROUP) == db_members(world) and OUTSIDER in db_members(world)
    assert counts(world, "groups").misses == 1


def test_removed_member_is_reflected_without_a_new_fill(world):
    member = sorted(db_members(world))[0]
    world.groups.members(GROUP)
    assert world.groups.remove_member(GROUP, member) is True
    assert member not in world.groups.members(GROUP)
    assert world.groups.members(GROUP) == db_members(world)
    assert counts(world, "groups").misses == 1


def test_adding_an_existing_member_changes_nothing(world):
    member = sorted(db_members(world))[0]
    assert world.groups.add_member(GROUP, member) is False
    assert world.groups.remove_member(GROUP, OUTSIDER) is False
    assert world.groups.members(GROUP) == db_members(world)


def test_add_after_logical_expiry_leaves_no_partial_set(world):
    world.groups.members(GROUP)
    world.clock.advance(6 * HOUR)
    world.groups.add_member(GROUP, OUTSIDER)
    members = world.groups.members(GROUP)
    assert members == db_members(world) and len(members) == 15


def test_add_after_the_key_is_deleted_leaves_no_partial_set(world):
    world.groups.members(GROUP)
    world.redis.delete(world.keys.group_members(GROUP).data)
    world.groups.add_member(GROUP, OUTSIDER)
    assert not world.redis.exists(world.keys.group_members(GROUP).data)
    assert world.groups.members(GROUP) == db_members(world)


def test_remove_after_logical_expiry_leaves_no_partial_set(world):
    member = sorted(db_members(world))[0]
    world.groups.members(GROUP)
    world.clock.advance(6 * HOUR)
    world.groups.remove_member(GROUP, member)
    assert world.groups.members(GROUP) == db_members(world)


def test_a_fill_racing_an_add_does_not_cache_the_old_set(world, monkeypatch):
    roster = world.repo.group_roster

    def reader_reads_then_member_added(group_id):
        rows = roster(group_id)
        monkeypatch.setattr(world.repo, "group_roster", roster)
        world.groups.add_member(group_id, OUTSIDER)
        return rows

    monkeypatch.setattr(world.repo, "group_roster", reader_reads_then_member_added)
    assert OUTSIDER not in world.groups.members(GROUP)  # the racing reader's answer...
    assert OUTSIDER in world.groups.members(GROUP)  # ...was not cached


@pytest.mark.parametrize("first, second", [("add", "remove"), ("remove", "add")])
def test_two_changes_of_one_member_reaching_redis_out_of_the_databases_order_leave_no_wrong_set(
        world, monkeypatch, first, second):
    """The first writer's database write, then all of the second writer's request, then the first's script."""
    member = OUTSIDER if first == "add" else sorted(db_members(world))[0]
    world.groups.members(GROUP)
    name = {"add": "add_group_member", "remove": "remove_group_member"}[first]
    write = getattr(world.repo, name)

    def written_then_overtaken(*args):
        changed = write(*args)
        monkeypatch.setattr(world.repo, name, write)
        getattr(world.groups, f"{second}_member")(GROUP, member)  # stored after the first, cached before it
        return changed

    monkeypatch.setattr(world.repo, name, written_then_overtaken)
    getattr(world.groups, f"{first}_member")(GROUP, member)
    assert (member in db_members(world)) == (second == "add")
    assert world.groups.members(GROUP) == db_members(world)


def test_empty_group_costs_one_query_then_hits(world):
    world.groups.create("gempty", "Nobody here")
    world.metrics.reset()
    for _ in range(3):
        assert world.groups.members("gempty") == frozenset()
    c = counts(world, "groups")
    assert (c.db_queries, c.misses, c.hits) == (1, 1, 2)


def test_first_member_of_an_empty_group_is_added_to_the_cached_set(world):
    world.groups.create("gempty", "Nobody here")
    world.groups.members("gempty")
    world.groups.add_member("gempty", OUTSIDER)
    assert world.groups.members("gempty") == {OUTSIDER}
    assert counts(world, "groups").misses == 1


def test_unknown_group_costs_one_query_then_hits(world):
    for _ in range(3):
        with pytest.raises(NotFound):
            world.groups.members("gnone")
    c = counts(world, "groups")
    assert (c.db_queries, c.misses, c.hits) == (1, 1, 2)


def test_create_replaces_a_cached_not_found(world):
    with pytest.raises(NotFound):
        world.groups.members("gnew")
    world.groups.create("gnew", "New", ["u000001", "u000002"])
    assert world.groups.members("gnew") == {"u000001", "u000002"}


def test_creating_an_existing_group_is_refused(world):
    with pytest.raises(InvalidInput):
        world.groups.create(GROUP, "Again")


def test_group_with_unknown_members_is_not_created(world):
    with pytest.raises(NotFound):
        world.groups.create("gbad", "Bad", ["u000001", "nobody"])
    assert world.repo.group("gbad") is None


def test_changes_to_unknown_groups_or_users_are_not_found(world):
    world.groups.members(GROUP)
    with pytest.raises(NotFound):
        world.groups.add_member("gnone", OUTSIDER)
    with pytest.raises(NotFound):
        world.groups.add_member(GROUP, "nobody")
    assert world.groups.members(GROUP) == db_members(world) and "nobody" not in db_members(world)
