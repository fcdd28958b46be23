"""Issue 5's "done when", on real RabbitMQ: the seed's checker goes red and a fired message
with its runbook URL lands; someone acknowledges and nothing repeats; the data is fixed and
a resolved message lands, and the acknowledgement is gone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from alarms.models import AlarmDefaults, AlarmState, ToggleLog
from runbooks.models import Runbook

pytestmark = pytest.mark.services


def test_red_fires_with_its_runbook_ack_silences_repeats_fixed_data_resolves(
    checker, run, rabbit, queue_channel, personas, login, announce
):
    AlarmDefaults.objects.create(namespace=personas.a, repeat_every=300)
    checker.runbook = Runbook.objects.create(
        namespace=personas.a, slug="null-emails", title="Users without an e-mail", body="Ask growth."
    )
    checker.save()
    run(checker, "green")

    red = run(checker, "red")
    (fired,) = rabbit.drain(expect=1)
    runbook_url = f"https://malleable.example.com/n/{personas.a.slug}/runbooks/null-emails/"
    assert fired.routing_key == f"{personas.a.slug}.few-null-emails.fired"
    assert (fired.body["event"], fired.body["runbook_url"]) == ("fired", runbook_url)
    runbook_page = login(personas.viewer).get(runbook_url.removeprefix("https://malleable.example.com"))
    assert runbook_page.status_code == 200

    state = AlarmState.objects.get(checker=checker)
    acknowledge = {"action": "acknowledge", "_selected_action": [state.pk], "apply": "1", "reason": "on it"}
    assert (
        login(personas.editor).post(reverse("admin:alarms_alarmstate_changelist"), acknowledge).status_code
        == 302
    )
    run(checker, "red")
    assert announce(red.finished + timedelta(hours=3)) == 0
    assert rabbit.drain(wait_s=1.0) == []

    run(checker, "green")
    (resolved,) = rabbit.drain(expect=1)
    assert resolved.routing_key == f"{personas.a.slug}.few-null-emails.resolved"
    assert (resolved.body["event"], resolved.body["runbook_url"]) == ("resolved", runbook_url)
    assert resolved.body["dedup_key"] != fired.body["dedup_key"]
    state.refresh_from_db()
    assert (state.state, state.acknowledged_at, state.silence()) == ("green", None, None)
    log = list(ToggleLog.objects.order_by("pk").values_list("action", "by_name", "reason"))
    assert [entry[0] for entry in log] == ["acknowledged", "ack-ended"]
    assert log[0] == ("acknowledged", "eddie", "on it")
