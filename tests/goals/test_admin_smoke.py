"""The admin that the main job serves lists every model."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import MetricValueFactory

pytestmark = pytest.mark.django_db


def test_every_changelist_opens(admin_client):
    """Each registered model's list page answers 200 with data in it."""
    MetricValueFactory()
    opened = []
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = admin_client.get(url)
        assert response.status_code == 200, url
        opened.append(model._meta.db_table)
    assert {"goals", "metric_values", "activity_instances", "scheduled_sessions"} <= set(opened)
