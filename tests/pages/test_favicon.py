"""Every page names the site's icon, the admin's too, so no browser asks for a missing /favicon.ico."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static

ICON = re.compile(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">')


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/", "/admin/", "/n/alpha/"])
def test_pages_and_the_admin_name_the_icon(personas, login, path):
    response = login(personas.owner).get(path, follow=True)
    assert response.status_code == 200
    assert ICON.findall(response.content.decode()) == [static("favicon.svg")]


def test_the_icon_is_a_static_file():
    assert finders.find("favicon.svg").endswith("static/favicon.svg")
