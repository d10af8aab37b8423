"""Settings for Fractal Goals.

Everything that differs between machines comes from the environment (see README, "Configuration").
"""

from __future__ import annotations

import os
import zoneinfo
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from goals_project.database_url import database_from_url, sqlite_url

BASE_DIR = Path(__file__).resolve().parent.parent


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _env_bool(name: str, default: bool) -> bool:
    """A switch from the environment: 1/true/yes/on or 0/false/no/off (any case); unset or empty
    gives the default. Anything else stops the settings with ImproperlyConfigured (exit 2), so a
    typo never turns a safeguard off (or debug mode on) unnoticed."""
    text = os.environ.get(name, "").strip().lower()
    if not text:
        return default
    if text not in _TRUE | _FALSE:
        raise ImproperlyConfigured(
            f"{name}={os.environ[name]!r} is neither on (1, true, yes, on) nor off (0, false, "
            f"no, off); unset it for {'on' if default else 'off'}."
        )
    return text in _TRUE


def _env_zone(name: str, default: str) -> str:
    """A time zone name from the environment that the zone database knows, or ImproperlyConfigured
    (exit 2) naming it; unset or empty gives the default."""
    text = os.environ.get(name, "").strip() or default
    try:
        zoneinfo.ZoneInfo(text)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ImproperlyConfigured(
            f"{name}={text!r} is no time zone the zone database knows. Set it to a name such as "
            f"Europe/Paris or America/New_York (the zone the legacy app ran in), or unset it for "
            f"{default}."
        ) from None
    return text


def _env_number(name: str, default: str, kind: type[int] | type[float], what: str) -> int | float:
    """A number from the environment; a value that is none (or below 0) stops the settings with
    ImproperlyConfigured, which manage.py reports as a usage error (exit 2) before any command."""
    text = os.environ.get(name, default)
    try:
        value = kind(text)
    except ValueError:
        value = -1
    if value < 0 or value != value:  # NaN is no number of anything
        raise ImproperlyConfigured(f"{name}={text!r} is not {what}; unset it for {default}.")
    return value


# The default key only suits a local, single-user install; set DJANGO_SECRET_KEY anywhere else.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "fractal-goals-local-only-insecure-key")
# Off unless asked for (DJANGO_DEBUG=1). Even then error pages show neither the settings nor the
# process environment, which the development server copies into every request's META.
DEBUG = _env_bool("DJANGO_DEBUG", False)
DEFAULT_EXCEPTION_REPORTER_FILTER = "goals_project.error_reports.RequestOnlyReporterFilter"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

INSTALLED_APPS = [
    # Project apps first so their management commands (migrate) take precedence over Django's.
    "goals_project.bases.apps.BasesConfig",
    "goals_project.maintenance.apps.MaintenanceConfig",
    "goals.apps.GoalsConfig",
    "sessions.apps.PracticeSessionsConfig",
    "goals_project.apps.FractalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "goals_project.urls"
WSGI_APPLICATION = "goals_project.wsgi.application"
ASGI_APPLICATION = "goals_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Time: the legacy app wrote naive local wall-clock text ("2025-12-21 22:52:28.442831"), no zone.
# USE_TZ stays on so code handles aware datetimes only; on SQLite the connection reads and writes
# naive text in FRACTAL_TIME_ZONE, so a legacy value read and saved again is the same text, and new
# rows are written in the same local time as the old ones. Set it to the zone the legacy app ran in.
USE_TZ = True
TIME_ZONE = _env_zone("FRACTAL_TIME_ZONE", "UTC")
LANGUAGE_CODE = "en-us"
USE_I18N = True

DEFAULT_SQLITE_PATH = BASE_DIR / "goals_dev.db"

# SQLite (the embedded default): foreign keys are always on in Django's backend; a busy timeout
# lets a writer wait for another instead of failing at once; IMMEDIATE transactions take the write
# lock up front so two writers never deadlock upgrading a read lock. WAL is switched on by
# `migrate` (a persistent property of the file, never set on a file only inspected or refused).
SQLITE_OPTIONS = {
    "timeout": _env_number("FRACTAL_SQLITE_TIMEOUT", "20", float, "a number of seconds, 0 or more"),
    "transaction_mode": "IMMEDIATE",
}

# An SQLite path with '#' or '?' in it must be written %23 / %3F; otherwise the URL names another
# file, and loading the settings stops with ImproperlyConfigured (goals_project/database_url.py).
DATABASES = {
    "default": database_from_url(os.environ.get("DATABASE_URL", sqlite_url(DEFAULT_SQLITE_PATH)))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
    DATABASES["default"]["TIME_ZONE"] = TIME_ZONE

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

# Backups (goals_project/maintenance/backups.py): the folder (default: backups/ beside the
# SQLite file, var/backups for PostgreSQL), whether `migrate` backs up first (off only for
# throw-away databases), and the free space to leave after a backup.
FRACTAL_BACKUP_DIR = os.environ.get("FRACTAL_BACKUP_DIR") or None
FRACTAL_BACKUP_BEFORE_MIGRATE = _env_bool("FRACTAL_BACKUP_BEFORE_MIGRATE", True)
FRACTAL_BACKUP_MIN_FREE_BYTES = _env_number(
    "FRACTAL_BACKUP_MIN_FREE_BYTES", "0", int, "a whole number of bytes, 0 or more"
)

# Index names come from the improvement plan; some are longer than the 30 characters that Oracle
# allows (models.E034). SQLite and PostgreSQL (63) are the supported databases.
SILENCED_SYSTEM_CHECKS = ["models.E034"]
