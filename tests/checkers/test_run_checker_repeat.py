"""``run_checker NS/CHECKER --repeat N``: N recorded runs in one process, and their spread."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from checkers.management.commands.run_checker import spread
from checkers.models import CheckRun

USUAL_KEYS = {
    "status",
    "messages",
    "error",
    "logs",
    "duration_ms",
    "fuel_used",
    "run_id",
    "state",
    "held_alarms",
}


def run_json(capsys, *args: str) -> tuple[int, dict]:
    try:
        call_command("run_checker", *args, "--json")
        code = 0
    except SystemExit as exited:
        code = exited.code
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("which", ["few-null-emails", "few-null-emails-py"], ids=["rule", "python"])
def test_each_repeated_run_is_recorded_as_manual(seed, shop, capsys, which):
    shop.set_null_emails(3)
    code, report = run_json(capsys, f"alpha/{which}", "--repeat", "4")
    assert code == 0
    runs = CheckRun.objects.filter(checker__slug=which)
    assert runs.count() == 4
    assert set(runs.values_list("trigger", flat=True)) == {"manual"}
    assert report["run_id"] == str(runs.latest("finished").uuid)


def test_the_report_is_the_last_runs_plus_timings(seed, shop, capsys):
    shop.set_null_emails(50)
    code, report = run_json(capsys, "alpha/few-null-emails", "--repeat", "5")
    assert code == 1
    assert set(report) == USUAL_KEYS | {"timings"}
    assert (report["status"], report["state"]) == ("red", "red")
    timings = report["timings"]
    assert set(timings) == {"runs", "run_ms", "sql_ms"}
    assert timings["runs"] == 5
    for key in ("run_ms", "sql_ms"):
        figures = timings[key]
        assert set(figures) == {"median", "p90", "max"}
        assert 0 < figures["median"] <= figures["p90"] <= figures["max"]
    assert timings["sql_ms"]["max"] <= timings["run_ms"]["max"]


def test_without_repeat_the_report_has_no_timings(seed, shop, capsys):
    shop.set_null_emails(1)
    _, report = run_json(capsys, "alpha/few-null-emails")
    assert set(report) == USUAL_KEYS


def test_a_repeated_dry_run_records_nothing(seed, shop, capsys):
    shop.set_null_emails(1)
    code, report = run_json(capsys, "alpha/few-null-emails", "--repeat", "3", "--dry-run")
    assert code == 0
    assert report["run_id"] is None
    assert report["timings"]["runs"] == 3
    assert not CheckRun.objects.exists()


def test_the_text_report_shows_the_spread(seed, shop, capsys):
    shop.set_null_emails(1)
    call_command("run_checker", "alpha/few-null-emails", "--repeat", "2")
    out = capsys.readouterr().out
    assert out.startswith("GREEN  alpha/few-null-emails")
    assert "2 runs, ms    median       p90       max" in out
    assert "whole run" in out
    assert "SQL" in out


@pytest.mark.parametrize("bad", ["0", "-3", "two", "1.5", ""])
def test_a_bad_count_is_a_usage_error(seed, bad):
    with pytest.raises(CommandError, match="--repeat") as raised:
        call_command("run_checker", "alpha/few-null-emails", "--repeat", bad)
    assert raised.value.returncode == 64
    assert not CheckRun.objects.exists()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([7.0], {"median": 7.0, "p90": 7.0, "max": 7.0}),
        ([4.0, 1.0], {"median": 2.5, "p90": 4.0, "max": 4.0}),
        # Nearest rank: the 9th of 10 sorted values, the 18th of 20.
        ([float(v) for v in range(10, 0, -1)], {"median": 5.5, "p90": 9.0, "max": 10.0}),
        ([float(v) for v in range(1, 21)], {"median": 10.5, "p90": 18.0, "max": 20.0}),
        ([1.0, 1.0, 1.0, 50.0, 2.0], {"median": 1.0, "p90": 50.0, "max": 50.0}),
    ],
)
def test_spread_is_median_nearest_rank_p90_and_max(values, expected):
    assert spread(values) == expected
