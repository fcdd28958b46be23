from django.urls import reverse

from namespaces.models import Membership, Namespace, Role


def test_home_lists_only_the_users_namespaces(personas, login):
    Membership.objects.create(namespace=personas.b, user=personas.owner, role=Role.VIEWER)
    response = login(personas.owner).get(reverse("home"))
    assert [ns.slug for ns in response.context["namespace_list"]] == ["alpha", "beta"]


def test_home_goes_straight_to_a_single_namespace(personas, login):
    response = login(personas.viewer).get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == "/n/alpha/"


def test_home_without_namespaces_says_what_to_do(personas, login):
    response = login(personas.stranger).get(reverse("home"))
    assert "Ask a namespace owner to add you" in response.content.decode()


def test_switcher_shows_only_the_users_namespaces(personas, login):
    Namespace.objects.create(slug="gamma", name="Gamma team")
    content = login(personas.viewer).get("/n/alpha/").content.decode()
    assert "Alpha team" in content
    assert "Beta team" not in content
    assert "Gamma team" not in content


def test_namespace_page_shows_role_and_members(personas, login):
    content = login(personas.editor).get("/n/alpha/").content.decode()
    assert "You are editor" in content
    members = [m.user.username for m in login(personas.editor).get("/n/alpha/").context["members"]]
    assert sorted(members) == ["eddie", "olivia", "vera"]


def test_pages_use_locally_served_bootstrap(personas, login, client):
    content = login(personas.viewer).get("/n/alpha/").content.decode()
    assert "/static/vendor/bootstrap/bootstrap.min.css" in content
    assert "cdn" not in content.lower()
    assert client.get("/static/vendor/bootstrap/bootstrap.min.css").status_code == 200


def test_sign_in_and_out(personas, client):
    response = client.post(reverse("login"), {"username": "vera", "password": "correct horse battery staple"})
    assert response.status_code == 302
    assert client.get("/n/alpha/").status_code == 200
    client.post(reverse("logout"))
    assert client.get("/n/alpha/").status_code == 302
