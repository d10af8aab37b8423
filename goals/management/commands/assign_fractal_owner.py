"""manage.py assign_fractal_owner: give fractals an owner, who then sees them in the admin."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from goals.services import fractal_owner_assign
from goals_project.bases.commands import ExitStatusesInHelp, add_database_argument
from goals_project.bases.exit_codes import Exit
from goals_project.bases.progress import Reporter


class Command(ExitStatusesInHelp, BaseCommand):
    help = (
        "Give fractals (root goals of any root type) to a user. Without --root, every fractal "
        "that has no owner yet, which is how a migrated legacy database gets its default owner; "
        "staff users who are not superusers see only the fractals they own."
    )

    exit_statuses = (Exit.USAGE, Exit.OWNED_ELSEWHERE)

    def add_arguments(self, parser) -> None:
        parser.add_argument("username", help="The user who will own the fractals.")
        parser.add_argument(
            "--root",
            action="append",
            dest="roots",
            metavar="ID",
            help="Id of a fractal's root goal (repeatable; default: all without an owner).",
        )
        parser.add_argument(
            "--reassign",
            action="store_true",
            help="Also take named fractals from the user who owns them now.",
        )
        add_database_argument(parser, "to work on")

    def handle(self, *args, **options) -> None:
        reporter = Reporter.of(self, options)
        users = get_user_model()._default_manager.db_manager(options["database"])
        try:
            owner = users.get_by_natural_key(options["username"])
        except users.model.DoesNotExist:
            raise CommandError(
                f"No user named '{options['username']}'. Create one first with "
                "`manage.py createsuperuser` (or in the admin).",
                returncode=Exit.USAGE,
            ) from None
        try:
            result = fractal_owner_assign(
                owner=owner,
                root_ids=options["roots"],
                reassign=options["reassign"],
                using=options["database"],
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages), returncode=Exit.USAGE) from None
        for root_id in result.assigned:
            reporter.step(f"fractal {root_id} now owned by {owner}")
        reporter.result(
            self.style.SUCCESS(f"{len(result.assigned)} fractal(s) now owned by {owner}.")
        )
        if result.owned_by_others:
            raise CommandError(
                f"{len(result.owned_by_others)} fractal(s) belong to another user and were left "
                f"as they are: {', '.join(result.owned_by_others)}. Add --reassign to take them.",
                returncode=Exit.OWNED_ELSEWHERE,
            )
