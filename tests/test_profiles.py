"""Profiles: a read-through hash per user, 24 h TTL, dropped on every write, 'no such user' cached."""

import pytest

from whatsapp_cache.datatypes import generation

from support import DAY, SECOND, counts

from whatsapp_cache import NotFound
from whatsapp_cache.datatypes import Message, Profile, Session

USER = "u000001"


def test_first_read_misses_with_one_query_then_hits(world):
    first = world.profiles.get(USER)
    second = world.profiles.get(USER)
    assert first == second
    c = counts(world, "profiles")
    assert (c.misses, c.hits, c.db_queries) == (1, 1, 1)
    assert c.round_trips == 4, "miss = read + generation + atomic fill; hit = one command"


def test_profile_matches_the_database_row(world):
    row = world.repo.user(USER)
    assert world.profiles.get(USER) == Profile(USER, row["username"], row["phone"], row["profile_pic"],
                                               row["status_message"])


def test_a_hit_builds_the_same_profile_as_the_constructor(world):
    row = world.repo.user(USER)
    built = Profile(USER, row["username"], row["phone"], row["profile_pic"], row["status_message"])
    world.profiles.get(USER)
    hit = world.profiles.get(USER)
    assert counts(world, "profiles").hits == 1
    assert (hit, hash(hit), repr(hit), vars(hit)) == (built, hash(built), repr(built), vars(built))
    assert list(vars(hit)) == list(vars(built)), "fields in declaration order"
    with pytest.raises(AttributeError):
        hit.username = "changed"  # still frozen


@pytest.mark.parametrize("record", [Profile, Session, Message])
def test_the_records_a_hit_builds_by_filling_their_dict_have_no_post_init_nor_slots(record):
    """datatypes.base.decoded_record skips __init__: a check in __post_init__ would be skipped too."""
    assert not hasattr(record, "__post_init__") and "__slots__" not in vars(record)


def test_cached_profile_is_served_without_a_query(world):
    world.profiles.get(USER)
    world.metrics.reset()
    for _ in range(5):
        world.profiles.get(USER)
    c = counts(world, "profiles")
    assert (c.hits, c.misses, c.db_queries, c.round_trips) == (5, 0, 0, 5)


def test_entry_expires_after_24_hours_on_the_simulated_clock(world):
    world.profiles.get(USER)
    world.clock.advance(DAY - 1)
    world.profiles.get(USER)
    assert counts(world, "profiles").hits == 1
    world.clock.advance(1)
    world.profiles.get(USER)
    c = counts(world, "profiles")
    assert (c.misses, c.db_queries) == (2, 2)


def test_changed_ttl_applies_to_new_entries(world):
    world.ttls = world.ttls.with_(profiles=10)
    world.profiles.get(USER)
    world.clock.advance(10 * SECOND - 1)
    world.profiles.get(USER)
    world.clock.advance(1)
    world.profiles.get(USER)
    c = counts(world, "profiles")
    assert (c.misses, c.hits) == (2, 1)


def test_redis_ttl_is_set_alongside_the_logical_expiry(world):
    world.ttls = world.ttls.with_(profiles=10)
    world.profiles.get(USER)
    assert 0 < world.redis.pttl(world.keys.profile(USER).data) <= 10 * SECOND


def test_update_drops_the_cached_copy(world):
    world.profiles.get(USER)
    world.profiles.update(USER, username="Renamed", status_message="Busy")
    profile = world.profiles.get(USER)
    assert (profile.username, profile.status_message) == ("Renamed", "Busy")
    assert counts(world, "profiles").misses == 2
    assert world.redis.exists(world.keys.profile(USER).data)  # refilled by the read


def test_update_of_an_unknown_user_is_not_found(world):
    with pytest.raises(NotFound):
        world.profiles.update("nobody", username="x")
    assert counts(world, "profiles").errors == 1


def test_unknown_id_costs_one_query_then_hits(world):
    for _ in range(4):
        with pytest.raises(NotFound):
            world.profiles.get("nobody")
    c = counts(world, "profiles")
    assert (c.db_queries, c.misses, c.hits, c.errors) == (1, 1, 3, 0)


def test_negative_entry_uses_the_negative_ttl(world):
    world.ttls = world.ttls.with_(negative=30)
    with pytest.raises(NotFound):
        world.profiles.get("nobody")
    world.clock.advance(30 * SECOND)
    with pytest.raises(NotFound):
        world.profiles.get("nobody")
    assert counts(world, "profiles").db_queries == 2


def test_create_replaces_a_cached_not_found(world):
    with pytest.raises(NotFound):
        world.profiles.get("newbie")
    world.profiles.create("newbie", "Newbie", "+15550000000", status_message="hi")
    assert world.profiles.get("newbie").username == "Newbie"


def test_creating_an_existing_user_is_refused(world):
    from whatsapp_cache import InvalidInput
    with pytest.raises(InvalidInput):
        world.profiles.create(USER, "Twin", "+15550000001")


def test_a_fill_racing_an_update_does_not_cache_the_old_value(world, monkeypatch):
    """Seed bug 4: reader reads the old row, writer updates and invalidates, reader's fill is refused."""
    old_user = world.repo.user

    def reader_reads_then_writer_updates(user_id):
        row = old_user(user_id)
        monkeypatch.setattr(world.repo, "user", old_user)
        world.profiles.update(user_id, username="After")
        return row

    monkeypatch.setattr(world.repo, "user", reader_reads_then_writer_updates)
    assert world.profiles.get(USER).username != "After"  # the racing reader saw the old row...
    assert world.profiles.get(USER).username == "After"  # ...but did not cache it


def test_profiles_of_different_users_do_not_mix(world):
    a, b = world.profiles.get("u000002"), world.profiles.get("u000003")
    assert a.user_id == "u000002" and b.user_id == "u000003" and a != b
    assert world.profiles.get("u000002") == a


def test_a_write_between_the_generation_read_and_the_fill_keeps_the_old_row_out(world, monkeypatch):
    read_user = world.repo.user

    def read_then_a_write_lands(user_id):
        row = read_user(user_id)
        world.profiles.update(user_id, status_message="changed meanwhile")
        return row

    monkeypatch.setattr(world.repo, "user", read_then_a_write_lands)
    assert world.profiles.get(USER).status_message != "changed meanwhile"  # the reader's own answer is old
    monkeypatch.undo()
    assert world.profiles.get(USER).status_message == "changed meanwhile", "the old row must not have been cached"


def test_a_write_between_the_miss_and_the_generation_read_is_what_gets_cached(world, monkeypatch):
    claim_generation = generation.claim
    writes = []

    def a_write_lands_first(client, key, ttl_ms):
        if not writes:
            writes.append(world.profiles.update(USER, status_message="written first"))
        return claim_generation(client, key, ttl_ms)

    monkeypatch.setattr(generation, "claim", a_write_lands_first)
    assert world.profiles.get(USER).status_message == "written first"
    monkeypatch.undo()
    before = counts(world, "profiles")
    assert world.profiles.get(USER).status_message == "written first"
    assert counts(world, "profiles").hits == before.hits + 1, "the fill after the write is current and stays"
