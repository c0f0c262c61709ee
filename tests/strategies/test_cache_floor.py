"""The minimum cacheable prefix learned from the API's cache counters, and its file in var/cache."""

from __future__ import annotations

from bot.strategies.cache_floor import FILE, CacheFloor, learn, load_floors, remember


def test_zero_counters_raise_the_floor_a_cached_prefix_bounds_it_from_above():
    floor = CacheFloor()
    assert (floor.caches(1000), floor.said()) == (None, "unknown")
    # 1,058 and 1,588 tokens closed by the two breakpoints, nothing written or read: the minimum is above 1,588
    floor = learn(floor, prefixes=[1058, 1588], written=0, read=0)
    assert floor == CacheFloor(above=1588) and floor.said() == "> 1,588"
    assert (floor.caches(1588), floor.caches(1589)) == (False, None)
    # a longer prompt (owner's notes) is cached: the minimum is in 1,589..2,400
    floor = learn(floor, prefixes=[1870, 2400], written=2400, read=0)
    assert floor == CacheFloor(above=1588, at_most=2400) and floor.said() == "1,589-2,400"
    assert (floor.caches(2400), floor.caches(2000)) == (True, None)
    # a read alone says the same; a shorter cached prefix tightens the bound, a longer one does not
    assert learn(floor, prefixes=[2100], written=0, read=2100).at_most == 2100
    assert learn(floor, prefixes=[3000], written=0, read=3000).at_most == 2400
    # a request without a breakpoint says nothing
    assert learn(floor, prefixes=[], written=0, read=0) == floor


def test_the_floors_are_kept_per_model_and_a_broken_file_is_learned_again(tmp_path):
    assert load_floors(tmp_path) == {} and load_floors(None) == {}
    remember(tmp_path, "claude-sonnet-5-5", CacheFloor(above=1588))
    remember(tmp_path, "claude-haiku-5-5", CacheFloor(at_most=1588))
    assert load_floors(tmp_path) == {
        "claude-sonnet-5-5": CacheFloor(above=1588),
        "claude-haiku-5-5": CacheFloor(at_most=1588),
    }
    (tmp_path / FILE).write_text('{"claude-sonnet-5-5": {"above": -1}}')  # not a floor: forgotten, not fatal
    assert load_floors(tmp_path) == {}
    remember(tmp_path, "claude-sonnet-5-5", CacheFloor(above=10))
    assert load_floors(tmp_path) == {"claude-sonnet-5-5": CacheFloor(above=10)}
    remember(tmp_path / FILE / "below-a-file", "m", CacheFloor())  # cannot be written: a warning, nothing raised
