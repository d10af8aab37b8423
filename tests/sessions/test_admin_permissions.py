"""The session page for staff with some permissions only: what they may only see is read-only,
never an error page, and what they may not do is refused before anything is saved."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

pytestmark = pytest.mark.django_db


def with_permissions(world, *codenames: str) -> None:
    """The world's owner keeps only `codenames` among their permissions."""
    world.user.user_permissions.set(Permission.objects.filter(codename__in=codenames))


def page_url(world) -> str:
    return reverse("admin:goals_practicesession_change", args=[world.session.pk])


@pytest.mark.parametrize(
    "codenames",
    [
        ("view_practicesession", "view_activityinstance", "view_metricvalue"),
        ("view_practicesession", "change_practicesession", "view_activityinstance"),
    ],
    ids=["view only", "change the session, view its activities"],
)
def test_activities_seen_without_change_permission_show_their_values_read_only(codenames, alice):
    """A user who may only view the session's activities gets the page (it was an error page:
    the metric grid, a form field, was read as the instance's attribute), with each metric's
    values as text and no input to change them."""
    with_permissions(alice, *codenames)
    response = alice.client.get(page_url(alice))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<tr><th scope="row">Alice weight (kg)</th><td>42.5</td></tr>' in page
    assert "metric_values-v-" not in page
