"""The rest of the seed's code run beside the library's fix: each naive variant fails, the fix holds.

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


# Bugs 6 and 15: the seed's Q4 lock --------------------------------------------------------------

def _stampede_pair(name: str, **options):
    import fakeredis

    from whatsapp_cache import SimulatedClock
    from whatsapp_cache.stampede import make_strategy

    client = fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)
    clock = SimulatedClock()
    strategy = make_strategy(name, client, ttl_ms=500, clock=clock, **options)
    strategy.store("hot", ["old"], 50)
    clock.advance(600)  # the hot value has expired
    return client, clock, strategy


def test_bug15_seed_lock_naive_waiter_gets_nothing_and_the_refresh_never_expires():
    from whatsapp_cache.stampede.seed import reader_during_load

    client, clock, seed_lock = _stampede_pair("seed-lock")
    holder, waiter = reader_during_load(seed_lock, "hot", ["new"], load_ms=150)
    assert (holder.outcome, waiter.outcome, waiter.value, waiter.waited_ms) == ("loaded", "nothing", None, 100)
    assert client.pttl(seed_lock.key("hot")) == -1                   # SET without a TTL
    assert 9_000 < client.pttl(seed_lock.keys.lock("hot")) <= 10_000  # "locked", never released
    clock.advance(7 * 24 * 3600 * 1000)                               # a week later: still a hit, never reloaded
    assert seed_lock.get("hot", lambda: ["newer"]).outcome == "hit"


def test_bug15_seed_lock_library_waiter_serves_stale_and_the_refresh_has_a_ttl():
    from whatsapp_cache.stampede.seed import reader_during_load

    client, clock, lock = _stampede_pair("lock", lock_ms=2_000, max_wait_ms=1_000)
    holder, waiter = reader_during_load(lock, "hot", ["new"], load_ms=150)
    assert (holder.outcome, waiter.outcome, waiter.value) == ("loaded", "stale", ["old"])
    assert 0 < client.pttl(lock.key("hot")) <= 1_000
    assert client.exists(lock.keys.lock("hot")) == 0                 # released by its holder
    clock.advance(600)
    assert lock.get("hot", lambda: ["newer"]).value == ["newer"]


# Bug 7: "10% when under 5 minutes" against XFetch -----------------------------------------------

def test_bug07_early_refresh_naive_hot_key_herds_and_throws_away_five_minutes():
    from whatsapp_cache.stampede.seed import early_refresh_model

    hot = early_refresh_model("seed", 10_000, delta_ms=100)
    assert hot.loads_per_cycle == pytest.approx(101, abs=1)  # 10,000 reads/s x 0.1 s x 10% join the refresh
    assert hot.seconds_early == pytest.approx(300, abs=1)
    assert early_refresh_model("seed", 0.01).expired_share > 0.7  # and a cold key usually expires anyway


def test_bug07_early_refresh_library_xfetch_refreshes_about_once_just_before_expiry():
    from whatsapp_cache.stampede.seed import early_refresh_model

    for rate in (100, 10_000, 1_000_000):
        row = early_refresh_model("xfetch+lock", rate, delta_ms=100)
        assert row.loads_per_cycle < 1.1 and row.seconds_early < 2 and row.expired_share == 0
        assert early_refresh_model("xfetch", rate, delta_ms=100).loads_per_cycle < 3  # even without the lock


def test_early_refresh_model_agrees_with_the_rules_read_by_read():
    """A brute-force replay of single reads (Poisson arrivals, each applying the rule) gives the same lead."""
    import random

    from whatsapp_cache.stampede.seed import early_refresh_model, seed_should_refresh
    from whatsapp_cache.stampede.xfetch import recompute_probability

    rng, rate, leads = random.Random(5), 2.0, {"seed": [], "xfetch": []}
    for _ in range(400):
        for rule in leads:
            left = 400.0
            while left > 0:
                left -= rng.expovariate(rate)
                fired = (seed_should_refresh(left * 1000, rng) if rule == "seed"
                         else rng.random() < recompute_probability(1000, 1.0, left * 1000))
                if left > 0 and fired:
                    break
            leads[rule].append(max(left, 0.0))
    for rule, sampled in leads.items():
        model = early_refresh_model(rule, rate, delta_ms=1000, cycles=4000)
        assert sum(sampled) / len(sampled) == pytest.approx(model.seconds_early, rel=0.1, abs=0.05)


# Seed naive variants on the NaiveSeedCache port -------------------------------------------------

NAIVE_KEY_PATTERNS = ("chat:*", "user:*", "session:*", "online_users", "jitter:*")


@pytest.fixture
def naive(world):
    from whatsapp_cache.experiments.naive import NaiveSeedCache

    def clear():
        for pattern in NAIVE_KEY_PATTERNS:
            keys = list(world.redis.scan_iter(match=pattern))
            for key in keys:  # one by one: on a cluster the keys live in different slots
                world.redis.delete(key)

    clear()
    yield NaiveSeedCache(world.redis, world.repo, world.clock.now_ms)
    clear()


def test_bug14_status_naive_hset_into_an_expired_profile_is_then_served_as_a_one_field_hit(world, naive):
    user = "u000004"
    assert len(naive.get_user_profile(user)) > 1   # a full profile, cached
    world.redis.delete(f"user:{user}")             # ... and expired
    naive.update_user_status(user, "busy")
    queries = naive.db_queries
    served = naive.get_user_profile(user)
    assert served == {"status": "busy"}            # the whole profile, as far as the reader knows
    assert naive.db_queries == queries             # served as a hit: no query


def test_bug14_status_library_status_write_after_expiry_leaves_the_full_profile_to_the_next_read(world):
    from whatsapp_cache.patterns import PatternContext, WriteThrough
    from whatsapp_cache.patterns.concurrency import run_steps

    user = "u000004"
    world.profiles.get(user)
    world.redis.delete(world.keys.profile(user).data)  # expired
    run_steps(WriteThrough(PatternContext.from_world(world)).write(user, "busy"))
    profile = world.profiles.get(user)
    assert profile.username and profile.phone and profile.status_message == "busy"


def test_bug16_jitter_naive_float_ttl_is_rejected_by_the_backend(world, naive):
    import random

    import redis

    with pytest.raises(redis.ResponseError, match="not an integer"):
        naive.cache_with_jittered_ttl("jitter:{u1}", "value", random.Random(0))
    assert world.redis.exists("jitter:{u1}") == 0  # nothing was cached


def test_bug16_jitter_library_ttl_is_whole_milliseconds_the_backend_accepts(world):
    import random

    from whatsapp_cache.ttl import TTLs

    ttl_ms = TTLs(jitter=300 / 3600).jittered_ms("messages", random.Random(0))
    assert isinstance(ttl_ms, int) and 3_600_000 <= ttl_ms <= 3_900_000
    assert world.redis.set("jitter:{u1}", "value", px=ttl_ms) and world.redis.pttl("jitter:{u1}") > 3_500_000


def test_bug17_write_through_naive_send_leaves_a_list_that_never_expires(world, naive):
    a, b = "u000001", "u000002"
    naive.send_message_write_through(a, b, "hello")
    assert world.redis.ttl(f"chat:{a}:{b}") == -1


def test_bug17_write_through_library_send_keeps_the_list_ttl(world):
    conversation = world.repo.ensure_direct_conversation("u000001", "u000002", world.clock.now_ms())
    world.messages.recent(conversation)
    world.messages.send(conversation, "u000001", "hello")
    assert 0 < world.redis.pttl(world.keys.recent_messages(conversation).data) <= world.ttls.ms("messages")


def test_bug18_sessions_naive_described_as_a_hash_but_stored_as_a_string(world, naive):
    import redis

    token = world.sessions.login("u000001").reveal()
    assert naive.is_authenticated(token)["user_id"] == "u000001"
    assert world.redis.type(f"session:{token}") == "string"
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        world.redis.hgetall(f"session:{token}")  # what a reader of the text would send


def test_bug18_sessions_library_stores_the_hash_the_text_describes(world):
    from whatsapp_cache.keys import token_digest

    token = world.sessions.login("u000001")
    key = world.keys.session(token_digest(token.reveal())).data
    assert world.redis.type(key) == "hash" and world.redis.hget(key, "user_id") == "\"u000001\""  # JSON-encoded fields


def test_bug18_scores_naive_milliseconds_read_as_seconds_keep_everyone_online(world, naive):
    naive.user_online("u000001")
    world.clock.advance(24 * 3600 * 1000)               # a day without a heartbeat
    assert naive.is_user_online_as_described("u000001")  # still "online"


def test_bug18_scores_library_is_offline_after_the_window(world):
    world.presence.heartbeat("u000001")
    assert world.presence.is_online("u000001")
    world.clock.advance(world.presence.window_ms + 1)
    assert not world.presence.is_online("u000001")
