"""Use a migrated database the way the admin does, so a test can move a lived-in database.

Run against the database in DATABASE_URL:

    manage.py shell -c "from tests.goals.admin_used import use; use()"

It adds users (a superuser and a staff coach with a group and permissions, passwords hashed),
gives the fractals owners, deletes one goal's subtree for good (soft delete) and another that
is restored, logs admin actions and leaves a login session.
"""

from __future__ import annotations

from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from goals.models import Goal
from goals.services import fractal_owner_assign, goal_delete, goal_restore

PASSWORD = "a long enough password 7"  # noqa: S105 - a test login


def use() -> None:
    user_model = get_user_model()
    admin = user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    coach = user_model.objects.create_user("coach", "coach@example.com", PASSWORD, is_staff=True)
    group = Group.objects.create(name="coaches")
    group.permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    coach.groups.add(group)
    coach.user_permissions.add(Permission.objects.get(codename="change_goal"))
    fractal_owner_assign(owner=admin)
    first_root = Goal.objects.filter(owner=admin).order_by("id").values_list("pk", flat=True)[0]
    fractal_owner_assign(owner=coach, root_ids=[first_root], reassign=True)
    gone, back = Goal.objects.filter(type="ShortTermGoal").order_by("id")[:2]
    goal_delete(goal=gone)
    goal_delete(goal=back)
    goal_restore(goal=Goal.all_objects.get(pk=back.pk))
    LogEntry.objects.log_actions(
        user_id=admin.pk, queryset=[gone], action_flag=DELETION, single_object=True
    )
    LogEntry.objects.log_actions(
        user_id=coach.pk,
        queryset=[Goal.objects.get(pk=back.pk)],
        action_flag=CHANGE,
        change_message='[{"changed": {"fields": ["Name"]}}]',
    )
    Client().force_login(admin)  # a row in django_session
