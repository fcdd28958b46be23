import pytest
from django.urls import reverse

from namespaces.models import Membership, Role

ADD = reverse("admin:namespaces_membership_add")


def change_url(membership: Membership) -> str:
    return reverse("admin:namespaces_membership_change", args=[membership.pk])


def test_owner_adds_a_member_by_username(personas, login):
    response = login(personas.owner).post(
        ADD, {"namespace": personas.a.pk, "username": personas.stranger.username, "role": "editor"}
    )
    assert response.status_code == 302
    assert personas.a.role_of(personas.stranger) == Role.EDITOR


def test_unknown_username_is_refused_and_named(personas, login):
    response = login(personas.owner).post(
        ADD, {"namespace": personas.a.pk, "username": "nobody", "role": "viewer"}
    )
    assert response.status_code == 200
    assert "There is no active account named &#x27;nobody&#x27;" in response.content.decode()
    assert personas.a.memberships.count() == 3


def test_a_second_membership_in_the_same_namespace_is_refused(personas, login):
    response = login(personas.owner).post(
        ADD, {"namespace": personas.a.pk, "username": personas.viewer.username, "role": "owner"}
    )
    assert response.status_code == 200
    assert "is already a member of Alpha team" in response.content.decode()
    assert personas.a.role_of(personas.viewer) == Role.VIEWER


def test_owner_cannot_add_members_to_another_namespace(personas, login):
    response = login(personas.owner).post(
        ADD, {"namespace": personas.b.pk, "username": personas.stranger.username, "role": "owner"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not personas.stranger.memberships.exists()


def test_the_last_owner_cannot_be_demoted(personas, login):
    membership = personas.a.memberships.get(user=personas.owner)
    response = login(personas.owner).post(
        change_url(membership),
        {"namespace": personas.a.pk, "username": personas.owner.username, "role": "viewer"},
    )
    assert response.status_code == 200
    assert "keeps at least one owner" in response.content.decode()
    assert personas.a.role_of(personas.owner) == Role.OWNER


def test_the_last_owner_cannot_be_deleted(personas, login):
    membership = personas.a.memberships.get(user=personas.owner)
    url = reverse("admin:namespaces_membership_delete", args=[membership.pk])
    assert login(personas.owner).post(url, {"post": "yes"}).status_code == 403
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_an_owner_can_hand_over_and_step_down(personas, login):
    client = login(personas.owner)
    editor = personas.a.memberships.get(user=personas.editor)
    client.post(
        change_url(editor),
        {"namespace": personas.a.pk, "username": personas.editor.username, "role": "owner"},
    )
    me = personas.a.memberships.get(user=personas.owner)
    response = client.post(
        change_url(me), {"namespace": personas.a.pk, "username": personas.owner.username, "role": "viewer"}
    )
    assert response.status_code == 302
    assert personas.a.role_of(personas.editor) == Role.OWNER
    assert personas.a.role_of(personas.owner) == Role.VIEWER


@pytest.mark.parametrize("role", ["owner", "editor", "viewer"])
def test_only_superusers_create_namespaces(personas, login, role):
    assert login(personas[role]).get(reverse("admin:namespaces_namespace_add")).status_code == 403


def test_member_without_staff_flag_signs_in_to_the_admin(personas, client):
    assert not personas.viewer.is_staff
    response = client.post(
        reverse("admin:login"),
        {"username": personas.viewer.username, "password": "correct horse battery staple"},
    )
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_namespace_filter_lists_only_the_users_namespaces(personas, login):
    response = login(personas.outsider).get(reverse("admin:namespaces_membership_changelist"))
    content = response.content.decode()
    assert "Beta team" in content
    assert "Alpha team" not in content
