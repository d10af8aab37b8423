from django.apps import AppConfig


class PracticeSessionsConfig(AppConfig):
    """What happens in practice sessions: activity instances, metric values, and programs."""

    name = "sessions"
    # django.contrib.sessions (needed by the admin) already owns the label "sessions".
    label = "practice_sessions"
    verbose_name = "Practice sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from goals.cascade import cascade_part_register
        from sessions.cascade import SessionDataCascade

        cascade_part_register(SessionDataCascade())
