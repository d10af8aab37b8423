#!/usr/bin/env python
"""Django's command-line utility for Fractal Goals."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "goals_project.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    from goals_project.bases.exit_codes import Exit
    from goals_project.bases.server_errors import server_refusal

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # Settings that cannot be used (e.g. a DATABASE_URL that would open another file than
        # the one written): the message alone, without a traceback.
        sys.stderr.write(f"{error}\n")
        sys.exit(Exit.USAGE)
    except Exception as error:
        # A PostgreSQL server that cannot be reached, or that refuses this user what a command
        # needs, stops any command: said in words with its own status, not as a traceback.
        refusal = server_refusal(error)
        if refusal is None:
            raise
        sys.stderr.write(f"{refusal.message}\n")
        sys.exit(refusal.code)


if __name__ == "__main__":
    main()
