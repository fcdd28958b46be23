"""The editor's backtest: the rules as typed, replayed over the stored figures; nothing saved."""

from datetime import timedelta

from django.utils import timezone

from checkers.models import CheckRun
from tests.pages.test_editor import rule_form, rule_rows

ROWS = "row count in users_with_email_null"


def store_history(checker) -> None:
    """Ten daily runs of 10 to 12 null e-mails, and one of 60 three days ago."""
    now = timezone.now()
    CheckRun.objects.bulk_create(
        CheckRun(
            checker=checker,
            trigger="schedule",
            status="green",
            scheduled_for=now - timedelta(days=ago, minutes=-1),
            finished=now - timedelta(days=ago, minutes=-1),
            figures={ROWS: 60.0 if ago == 3 else 10.0 + ago % 3},
        )
        for ago in range(10, 0, -1)
    )


def test_the_editor_backtests_the_rules_as_typed_and_saves_nothing(personas, login, rule):
    store_history(rule)
    saved = rule.rules.get()
    typed = {
        "id": saved.pk,
        "dataset": saved.dataset_id,
        "metric": "row_count",
        "compare": "band",
        "band": "mad",
    }
    data = rule_form(
        saved.dataset, slug=rule.slug, action="backtest", backtest_days="5", **rule_rows(typed, initial=1)
    )
    runs_before = CheckRun.objects.count()

    response = login(personas.editor).post(f"{rule.get_absolute_url()}edit/", data, HTTP_HX_REQUEST="true")

    content = response.content.decode()
    assert 'data-testid="backtest-result"' in content
    assert f"{ROWS} within median ± 3 MAD of the last 30 runs" in content
    assert "would have fired 1 time in the last 5 days (5 stored runs)" in content
    # The 7 runs before it: 10, 10, 11, 11, 11, 12, 12: median 11, MAD 1, x 1.4826 x 3 = 4.45.
    assert "(60, expected 6.55–15.45 from the last 7 runs)" in content
    assert CheckRun.objects.count() == runs_before
    saved.refresh_from_db()
    assert (saved.compare, saved.op, saved.value) == ("", "<", 42)


def test_a_new_checker_has_no_history_to_replay(personas, login, rule):
    dataset = rule.rules.get().dataset
    data = rule_form(dataset, action="backtest")
    content = (
        login(personas.editor).post("/n/alpha/checkers/new/", data, HTTP_HX_REQUEST="true").content.decode()
    )
    assert "would have fired 0 times in the last 30 days (0 stored runs)" in content
