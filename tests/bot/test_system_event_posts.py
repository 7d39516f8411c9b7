from datetime import UTC, datetime, timedelta

from bot import posts
from jitwire.contract import LifecycleEvent

NOW = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
BOT = "bot-user-id"


def drift(event_id: str, detail: str = "u#111111111111#ps reported") -> LifecycleEvent:
    return LifecycleEvent(
        event_id=event_id, type="access.drift_detected", occurred_at=NOW, actor=None, request=None, detail=detail
    )


def posted(event: LifecycleEvent, at: datetime, user_id: str = BOT) -> dict:
    props = {posts.PROP_EVENT: event.event_id, posts.PROP_SYSTEM: posts.system_key(event)}
    return {"create_at": int(at.timestamp() * 1000), "user_id": user_id, "props": props}


def test_the_same_event_is_told_once():
    event = drift("e1")
    assert posts.already_told([posted(event, NOW - timedelta(days=3))], event, NOW, author=BOT)


def test_the_same_drift_is_repeated_after_a_day_only():
    earlier = drift("e1")
    assert posts.already_told([posted(earlier, NOW - timedelta(hours=23))], drift("e2"), NOW, author=BOT)
    assert not posts.already_told([posted(earlier, NOW - timedelta(hours=25))], drift("e2"), NOW, author=BOT)


def test_other_drift_is_news():
    assert not posts.already_told(
        [posted(drift("e1"), NOW)], drift("e2", "other#222222222222#ps reported"), NOW, author=BOT
    )


def test_a_members_post_with_the_same_props_tells_nothing():
    event = drift("e1")
    forged = posted(event, NOW, user_id="mallory")
    assert not posts.already_told([forged], event, NOW, author=BOT)
    assert not posts.already_told([forged], drift("e2"), NOW, author=BOT)


def test_the_line_neutralises_the_detail():
    line = posts.system_event_line(drift("e1", "@channel ![x](http://t/p.png)"))
    assert "Access drift" in line
    assert "@channel" not in line
    assert "![x](" not in line
