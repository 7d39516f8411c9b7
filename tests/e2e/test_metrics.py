"""GET /metrics: the bot's own health in Prometheus text format moves as the flows run (docs/metrics.md)."""

from __future__ import annotations

import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import BotMetrics
from tests.e2e.conftest import System, wait_until
from tests.e2e.test_approval_flow import buttons, request_card


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_move_with_commands_clicks_sns_backend_and_mattermost(system: System) -> None:
    bot = system.start_bot()
    port = bot.port
    wait_until(lambda: value(scrape(port), "jit_bot_websocket_connected") == 1, what="websocket up")
    before = scrape(port)

    card = request_card(system, "request prod AdministratorAccess 1h investigating INC-7")
    system.mm.force_rate_limit("jit-bot", 1)  # the next Mattermost call is answered 429 once
    click = system.mm.click(user="bob", post_id=card["id"], action_id=buttons(card)["Approve"])
    assert "You approved" in click.ephemerals[0]["message"]
    refused = requests.post(f"http://127.0.0.1:{port}/sns", data=b"{}", timeout=5)
    assert refused.status_code == 403
    bad_token = requests.post(
        f"http://127.0.0.1:{port}/mattermost/command",
        data={"token": "x", "command": "/jit", "text": "list", "user_id": "u", "channel_id": "c", "team_id": "t"},
        timeout=5,
    )
    assert bad_token.status_code == 401
    bad_dialog = requests.post(f"http://127.0.0.1:{port}/mattermost/dialog", data=b"not json", timeout=5)
    assert bad_dialog.status_code == 400

    after = wait_until(
        lambda: (
            (s := scrape(port))
            and value(s, "jit_bot_sns_messages_total", type="Notification", verification="accepted") >= 1
            and s
        ),
        what="an SNS notification counted",
    )
    grew = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)  # noqa: E731
    assert grew("jit_bot_commands_total", command="request", outcome="accepted") == 1
    assert grew("jit_bot_commands_total", command="unknown", outcome="unauthorized") == 1
    assert grew("jit_bot_clicks_total", kind="request", outcome="replied") == 1
    assert grew("jit_bot_dialog_submissions_total", outcome="invalid") == 1
    assert grew("jit_bot_sns_messages_total", type="other", verification="malformed") == 1
    assert grew("jit_bot_backend_requests_total", status="2xx") >= 2  # create + decide
    assert grew("jit_bot_backend_request_seconds_count") >= 2
    assert grew("jit_bot_mattermost_requests_total", status="2xx") >= 2
    assert grew("jit_bot_mattermost_requests_total", status="429") == 1
    assert value(after, "jit_bot_websocket_connected") == 1
    assert value(after, "jit_bot_websocket_reconnects_total") == 0
    assert value(after, "jit_bot_dms_recovered_total") == 0  # defined; counted where DMs are recovered


def test_a_reconnect_is_counted_and_the_gauge_follows_the_socket(system: System) -> None:
    bot = system.start_bot()
    port = bot.port
    wait_until(lambda: value(scrape(port), "jit_bot_websocket_connected") == 1, what="websocket up")
    system.mm.mm.hub.close_all()
    wait_until(lambda: value(scrape(port), "jit_bot_websocket_reconnects_total") == 1, what="a reconnect counted")
    wait_until(lambda: value(scrape(port), "jit_bot_websocket_connected") == 1, what="websocket back")


def test_each_bot_has_its_own_registry_and_the_global_one_stays_clean() -> None:
    first, second = BotMetrics(), BotMetrics()
    first.commands.labels("request", "accepted").inc()
    assert b'jit_bot_commands_total{command="request",outcome="accepted"} 1.0' in first.render()
    assert b"jit_bot_commands_total{" not in second.render()
    assert not [name for name in REGISTRY._names_to_collectors if name.startswith("jit_bot")]


def test_every_metric_is_documented() -> None:
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text(encoding="utf-8")
    rendered = text_string_to_metric_families(BotMetrics().render().decode())
    families = {f.name for f in rendered if not f.name.endswith("_created")}  # the client's creation times
    assert families >= {"jit_bot_commands", "jit_bot_websocket_connected", "jit_bot_dms_recovered"}
    for family in families:
        kind = "_total" if f"`{family}_total`" in docs else ""
        assert f"`{family}{kind}`" in docs, family
