"""Security headers on every response: a strict Content-Security-Policy and its companions."""

from __future__ import annotations

from flask import Flask, Response

# Only this origin: no inline scripts or style attributes, images also from data: and blob: URLs
# (the 28x28 model inputs and the browser's own previews of what the user picked or drew).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def register_security_headers(app: Flask) -> None:
    """Add SECURITY_HEADERS to every response, pages, API answers, errors and static files alike."""

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
