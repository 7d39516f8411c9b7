from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jitwire.timefmt import format_duration, iso_z, parse_duration, parse_iso_z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1h30m", timedelta(minutes=90)),
        ("1d", timedelta(days=1)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "-1h", "0m", "2 hours", "1.5h", "PT2H"])
def test_bad_durations_say_how_to_write_one(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=60 * 24 * 7))
def test_format_and_parse_round_trip(minutes):
    value = timedelta(minutes=minutes)
    assert parse_duration(format_duration(value)) == value


def test_iso_z_is_second_precision_utc_with_z():
    moment = datetime(2026, 11, 27, 14, 0, 5, 999, tzinfo=UTC)
    assert iso_z(moment) == "2026-11-27T14:00:05Z"
    assert parse_iso_z("2026-11-27T14:00:05Z") == moment.replace(microsecond=0)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        iso_z(datetime(2026, 1, 1))
