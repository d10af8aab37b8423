"""The project's URLs plus a view that fails, for the error page tests."""

from __future__ import annotations

from django.urls import path

from goals_project.urls import urlpatterns as project_urlpatterns


def failing_view(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [*project_urlpatterns, path("fail/", failing_view)]
