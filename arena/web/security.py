"""Who may use the server: a token for anything but loopback, a per-session form key, an anonymous id."""
from __future__ import annotations

import hmac
import ipaddress
import secrets

from flask import Flask, abort, request, session

TOKEN_COOKIE = "arena_token"


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serving_token(host: str, token: str | None) -> str | None:
    """The token the server must check: the given one, else a fresh one when ``host`` is not loopback."""
    if token is not None and len(token) < 16:
        raise ValueError("--token must be at least 16 characters (or leave it out to have one generated)")
    if token is None and not is_loopback(host):
        return secrets.token_urlsafe(18)
    return token


def _presented() -> str:
    header = request.headers.get("Authorization", "")
    bearer = header[7:] if header.startswith("Bearer ") else ""
    return request.args.get("token") or request.cookies.get(TOKEN_COOKIE) or bearer


def install(app: Flask, token: str | None) -> None:
    """Check the token on every request (when there is one), the form key on every POST, and give
    each browser session an anonymous person id."""

    @app.before_request
    def guard():
        if token is not None and not hmac.compare_digest(_presented().encode(), token.encode()):
            abort(403, "this server needs its access token (printed when it started): open the address with "
                       "?token=... once")
        session.permanent = True
        session.setdefault("person", secrets.token_hex(8))
        session.setdefault("csrf", secrets.token_urlsafe(16))
        if request.method == "POST" and not hmac.compare_digest(request.form.get("csrf", "").encode(),
                                                                session["csrf"].encode()):
            abort(400, "this form is stale or came from another site; reload the page and try again")

    @app.after_request
    def remember(response):
        if token is not None and request.args.get("token") == token:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict")
        return response


def person() -> str:
    return session["person"]
