from backend.adapters.directory_cache import CachedDirectory
from tests.unit.world import identity_center


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_lookups_are_cached_for_the_ttl_then_refreshed():
    ic = identity_center()
    calls = []
    original = ic.find_user_id
    ic.find_user_id = lambda login: calls.append(login) or original(login)
    clock = Clock()
    cached = CachedDirectory(ic, ttl_seconds=60, clock=clock)
    assert cached.find_user_id("Alice@example.com") == "ic-alice"
    assert cached.find_user_id("alice@example.com") == "ic-alice"
    assert len(calls) == 1
    clock.now = 61
    cached.find_user_id("alice@example.com")
    assert len(calls) == 2


def test_group_changes_apply_after_the_ttl():
    ic = identity_center()
    clock = Clock()
    cached = CachedDirectory(ic, ttl_seconds=60, clock=clock)
    assert cached.group_names_for_user("ic-alice") == {"Engineers"}
    ic.groups["ic-alice"] = frozenset({"Approvers"})
    assert cached.group_names_for_user("ic-alice") == {"Engineers"}
    clock.now = 60
    assert cached.group_names_for_user("ic-alice") == {"Approvers"}
