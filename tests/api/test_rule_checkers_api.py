"""Rule checkers through the API: a ``rules`` list, validated by the editor's own rule rows."""

from __future__ import annotations

import pytest

from api.serializers import RuleWriteSerializer
from checkers.models import Checker, CheckerRule

NS = "/api/v1/namespaces/alpha"
RULE = {"dataset": "users_with_email_null", "metric": "row_count", "op": "<", "value": 10}


def new_rule_checker(**extra) -> dict:
    return {"slug": "few-nulls", "name": "Few nulls", "kind": "rule", "schedule_every": 300, **extra}


def test_an_editor_creates_a_rule_checker_and_gets_its_rules_back(seed, personas, bearer):
    body = new_rule_checker(
        rules=[RULE, {**RULE, "op": "between", "value": 0, "high": 5, "message": "a few"}]
    )
    response = bearer(personas.editor).post(f"{NS}/checkers/", body, format="json")
    assert response.status_code == 201, response.json()
    # Every key of a rule comes back, those of rules on history and business days at their defaults.
    on_history = dict.fromkeys(["k", "history_runs", "history_days", "min_history", "off_value", "off_high"])
    on_history |= dict.fromkeys(["compare", "band", "seasonal", "days", "key_column"], "")
    assert response.json()["rules"] == [
        {
            "dataset": "users_with_email_null",
            "metric": "row_count",
            "column": "",
            "op": "<",
            "value": 10.0,
            "high": None,
            "message": "",
            **on_history,
        },
        {
            "dataset": "users_with_email_null",
            "metric": "row_count",
            "column": "",
            "op": "between",
            "value": 0.0,
            "high": 5.0,
            "message": "a few",
            **on_history,
        },
    ]
    stored = Checker.objects.get(slug="few-nulls")
    assert list(stored.rules.values_list("position", "op")) == [(0, "<"), (1, "between")]


def test_a_rule_that_no_rows_may_match_takes_a_key_column_and_no_other_does(seed, personas, bearer):
    no_rows = {**RULE, "op": "==", "value": 0, "key_column": "username"}
    client = bearer(personas.editor)

    created = client.post(f"{NS}/checkers/", new_rule_checker(rules=[no_rows]), format="json")
    refused = client.post(
        f"{NS}/checkers/",
        new_rule_checker(slug="other", rules=[{**RULE, "key_column": "username"}]),
        format="json",
    )

    assert created.status_code == 201, created.json()
    assert created.json()["rules"][0]["key_column"] == "username"
    assert CheckerRule.objects.get(checker__slug="few-nulls").key_column == "username"
    assert refused.status_code == 400
    assert "A key column is for a rule that no rows may match" in str(refused.json())


# Every history and business-day key set away from its default.
BAND = {
    "dataset": "users_with_email_null",
    "metric": "row_count",
    "column": "",
    "compare": "band",
    "op": "<",
    "value": None,
    "high": None,
    "band": "mad",
    "k": 2.5,
    "history_runs": 8,
    "history_days": 28,
    "seasonal": "weekday_hour",
    "min_history": 4,
    "days": "business",
    "off_value": None,
    "off_high": None,
    "key_column": "",
    "message": "usual nulls",
}
CHANGE = {
    **BAND,
    "compare": "change_pct",
    "op": "between",
    "value": -20.0,
    "high": 50.0,
    "band": "",
    "k": None,
    "history_runs": None,
    "history_days": None,
    "seasonal": "",
    "min_history": 3,
    "days": "bound",
    "off_value": -90.0,
    "off_high": 200.0,
    "message": "",
}


def test_the_api_writes_every_key_of_a_rule():
    assert set(RuleWriteSerializer().fields) == set(CheckerRule.FIELDS)


def test_rules_on_history_and_business_days_round_trip_through_the_api(seed, personas, bearer):
    client = bearer(personas.editor)
    created = client.post(f"{NS}/checkers/", new_rule_checker(rules=[BAND, CHANGE]), format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["rules"] == [BAND, CHANGE]
    stored = [rule.spec() for rule in Checker.objects.get(slug="few-nulls").rule_list()]
    assert [rule.sentence() for rule in stored] == [
        "row count in users_with_email_null within median ± 2.5 MAD of the last 8 runs within the last"
        " 28 days on the same weekday and hour on business days",
        "row count in users_with_email_null: change since the previous run between -20 % and 50 % on business"
        " days, between -90 and 200 on other days",
    ]

    # What the API reads is what it takes: the rules read back, written back, unchanged.
    path = f"{NS}/checkers/few-nulls/"
    again = client.patch(path, {"rules": client.get(path).json()["rules"]}, format="json")
    assert again.status_code == 200, again.json()
    assert again.json()["rules"] == [BAND, CHANGE]


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"k": 0}, "rules.0.k", "Ensure this value is greater than or equal to 0.01."),
        ({"history_runs": 1}, "rules.0.history_runs", "Ensure this value is greater than or equal to 2."),
        ({"seasonal": "monthly"}, "rules.0.seasonal", "Select a valid choice. monthly is not one of the"),
        ({"days": "bound"}, "rules.0.days", "A band has no bound to change outside business days"),
    ],
)
def test_the_editors_rule_row_validates_the_history_keys(seed, personas, bearer, change, field, error):
    body = new_rule_checker(rules=[{**BAND, **change}])
    response = bearer(personas.editor).post(f"{NS}/checkers/", body, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == [field], fields
    assert fields[field][0].startswith(error)
    assert not Checker.objects.filter(slug="few-nulls").exists()


def test_a_rule_checker_needs_a_rule(seed, personas, bearer):
    response = bearer(personas.editor).post(f"{NS}/checkers/", new_rule_checker(), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "rules": ["A rule checker needs at least one rule: add one."]
    }
    assert not Checker.objects.filter(slug="few-nulls").exists()


def test_a_bad_rule_is_named_by_its_row_and_nothing_is_saved(seed, personas, bearer):
    rules = [RULE, {"dataset": "users_with_email_null", "op": "between", "value": 5}]
    response = bearer(personas.editor).post(f"{NS}/checkers/", new_rule_checker(rules=rules), format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == ["rules.1.high"], fields
    assert not Checker.objects.filter(slug="few-nulls").exists()


def test_a_rule_on_an_unknown_dataset_is_400(seed, personas, bearer):
    rules = [{**RULE, "dataset": "nope"}]
    response = bearer(personas.editor).post(f"{NS}/checkers/", new_rule_checker(rules=rules), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"rules.0.dataset": ["No dataset nope here."]}


def test_patching_rules_replaces_them_and_leaving_them_out_keeps_them(seed, personas, bearer):
    client = bearer(personas.editor)
    path = f"{NS}/checkers/few-null-emails/"
    kept = client.patch(path, {"name": "Fewer null e-mails"}, format="json")
    assert kept.status_code == 200, kept.json()
    assert [rule["value"] for rule in kept.json()["rules"]] == [42.0]
    replaced = client.patch(
        path, {"rules": [{**RULE, "value": 3}, {**RULE, "op": ">=", "value": 0}]}, format="json"
    )
    assert replaced.status_code == 200, replaced.json()
    assert [(r["op"], r["value"]) for r in replaced.json()["rules"]] == [("<", 3.0), (">=", 0.0)]
    assert CheckerRule.objects.filter(checker__slug="few-null-emails").count() == 2


def test_a_checker_that_stops_being_a_rule_checker_loses_its_rules(seed, personas, bearer):
    body = {"kind": "python", "source": "ok('fine')"}
    response = bearer(personas.editor).patch(f"{NS}/checkers/few-null-emails/", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["rules"] == []
    assert not CheckerRule.objects.filter(checker__slug="few-null-emails").exists()


def test_a_draft_of_rules_is_tried_without_saving(seed, shop, personas, bearer):
    shop.set_null_emails(3)
    client = bearer(personas.editor)
    draft = {"rules": [{**RULE, "value": 2, "message": "at most one"}]}
    response = client.post(f"{NS}/checkers/few-null-emails/test", draft, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "red"
    saved = client.post(f"{NS}/checkers/few-null-emails/test", {}, format="json")
    assert saved.json()["status"] == "green"
    assert list(
        CheckerRule.objects.filter(checker__slug="few-null-emails").values_list("value", flat=True)
    ) == [42]


def test_a_viewer_cannot_create_a_rule_checker(seed, personas, bearer):
    response = bearer(personas.viewer).post(f"{NS}/checkers/", new_rule_checker(rules=[RULE]), format="json")
    assert response.status_code == 403
