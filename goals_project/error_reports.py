"""What Django's debug error pages may show: never the server's environment or settings."""

from __future__ import annotations

from django.views.debug import SafeExceptionReporterFilter

# The request's own keys (PEP 3333). Everything else in META is the server process's environment,
# which the development server copies into every request.
REQUEST_KEYS = frozenset(
    {
        "CONTENT_LENGTH",
        "CONTENT_TYPE",
        "PATH_INFO",
        "QUERY_STRING",
        "REMOTE_ADDR",
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
    }
)


class RequestOnlyReporterFilter(SafeExceptionReporterFilter):
    """Debug pages show the request's headers (cookies masked, as Django does) and no settings,
    so an error page, even the 400 of a request with a foreign Host header, gives nothing of the
    server away."""

    def get_safe_settings(self) -> dict:
        return {}

    def get_safe_request_meta(self, request) -> dict:
        meta = super().get_safe_request_meta(request)
        return {
            key: value
            for key, value in meta.items()
            if key.startswith("HTTP_") or key in REQUEST_KEYS
        }
