"""A viewer reads every page but is offered no button that changes anything, and its POSTs get 403.

The POSTs are sent from the viewer's signed-in page with its session and CSRF token, as a form
crafted in the browser would be, so a 403 here is the role check and not a missing token.
"""

import pytest
from playwright.sync_api import Page, expect

from alarms.models import AlarmState
from checkers import runs
from checkers.models import Checker, CheckRun, Dataset, Datasource
from runbooks.models import Runbook
from tests.browser.conftest import field, post_as_page

pytestmark = pytest.mark.browser

A = "/n/alpha"
CHECKER = f"{A}/checkers/few-null-emails"
REFUSED_POSTS = [
    f"{CHECKER}/run/",
    f"{CHECKER}/test/",
    f"{CHECKER}/acknowledge/",
    f"{CHECKER}/unacknowledge/",
    f"{CHECKER}/mute/",
    f"{CHECKER}/unmute/",
    f"{CHECKER}/alarming/off/",
    f"{CHECKER}/alarming/on/",
    f"{CHECKER}/edit/",
    f"{CHECKER}/delete/",
    f"{A}/checkers/new/",
    f"{A}/datasets/new/",
    f"{A}/datasets/users_with_email_null/",
    f"{A}/datasets/users_with_email_null/delete/",
    f"{A}/datasources/new/",
    f"{A}/datasources/shop/",
    f"{A}/datasources/shop/delete/",
    f"{A}/runbooks/new/",
    f"{A}/runbooks/null-emails/edit/",
    f"{A}/settings/",
    f"{A}/settings/channels/new/",
    f"{A}/settings/maintenance/",
    f"{A}/settings/alarms/",
]

# Whatever a form of any of these pages might take: a reason, a mute's length, a name.
TRIED = {"reason": "viewer tries", "minutes": "60", "name": "Hijacked"}


@pytest.fixture
def red_seed(seed, shop, personas):
    rule, python = seed
    runbook = Runbook.objects.create(
        namespace=personas.a, slug="null-emails", title="Users without an e-mail", body="Call growth."
    )
    Checker.objects.filter(pk=rule.pk).update(runbook=runbook)
    shop.set_null_emails(50)
    runs.execute(rule)
    return rule, python


@pytest.fixture
def viewer(signed_in, red_seed) -> Page:
    return signed_in("viewer")


def test_viewer_dashboard_offers_no_new_checker(viewer: Page):
    expect(viewer.get_by_test_id("checker-row")).to_have_count(2)
    expect(viewer.get_by_test_id("role")).to_have_text("You are viewer")
    expect(viewer.get_by_role("link", name="New checker")).to_have_count(0)


def test_viewer_checker_page_has_no_action_buttons(viewer: Page):
    viewer.goto(f"{CHECKER}/")
    expect(viewer.get_by_role("heading", name="Few null e-mails", level=1)).to_be_visible()
    expect(viewer.get_by_test_id("read-only-note")).to_be_visible()
    expect(viewer.get_by_test_id("actions")).to_have_count(0)
    for label in ["Run now", "Test run", "Edit", "Acknowledge", "Mute…", "Disable alarming…"]:
        expect(viewer.get_by_role("button", name=label)).to_have_count(0)
        expect(viewer.get_by_role("link", name=label, exact=True)).to_have_count(0)


def test_viewer_sees_the_checker_editor_read_only(viewer: Page):
    viewer.goto(f"{CHECKER}/edit/")
    expect(viewer.get_by_test_id("read-only-note")).to_be_visible()
    expect(field(viewer, "Name")).to_be_disabled()
    expect(field(viewer, "Message")).to_be_disabled()
    expect(viewer.get_by_role("button", name="Save checker")).to_have_count(0)
    expect(viewer.get_by_role("button", name="Test run")).to_have_count(0)


def test_viewer_datasets_datasources_and_runbooks_have_no_edit_buttons(viewer: Page):
    viewer.goto(f"{A}/datasets/")
    expect(viewer.get_by_test_id("dataset-row")).to_have_count(1)
    expect(viewer.get_by_test_id("new-dataset")).to_have_count(0)
    viewer.get_by_test_id("dataset-row").click()
    expect(field(viewer, "SQL")).to_be_disabled()
    expect(viewer.get_by_role("button", name="Save dataset")).to_have_count(0)
    expect(viewer.get_by_role("button", name="Preview")).to_have_count(0)

    viewer.goto(f"{A}/datasources/")
    expect(viewer.get_by_test_id("datasource-row")).to_have_count(1)
    expect(viewer.get_by_test_id("new-datasource")).to_have_count(0)

    viewer.goto(f"{A}/runbooks/null-emails/")
    expect(viewer.get_by_test_id("runbook-body")).to_contain_text("Call growth.")
    expect(viewer.get_by_test_id("edit-runbook")).to_have_count(0)


def test_viewer_posts_are_refused_with_403_and_change_nothing(viewer: Page, red_seed):
    rule, _ = red_seed
    answers = {path: post_as_page(viewer, path, TRIED).status for path in REFUSED_POSTS}
    assert {path: status for path, status in answers.items() if status != 403} == {}
    assert CheckRun.objects.count() == 1
    state = AlarmState.objects.get(checker=rule)
    assert (state.acknowledged_at, state.muted_until) == (None, None)
    assert Checker.objects.count() == 2
    assert Checker.objects.get(pk=rule.pk).name == "Few null e-mails"
    assert (Dataset.objects.count(), Datasource.objects.count(), Runbook.objects.count()) == (1, 1, 1)


def test_same_post_from_an_editor_is_accepted(signed_in, red_seed):
    """The control: the helper's session and CSRF token pass, so the viewer's 403s are the role's."""
    editor = signed_in("editor")
    response = post_as_page(editor, f"{CHECKER}/acknowledge/", {"reason": "on it"})
    assert response.status == 302
    assert AlarmState.objects.get(checker=red_seed[0]).ack_reason == "on it"
