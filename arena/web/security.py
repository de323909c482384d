"""Who may use the server: a token for anything but loopback (and for a study's researcher pages), a
Host check against DNS rebinding, a per-session form key, an anonymous id, and headers that keep the
pages out of frames and other sites' scripts."""
from __future__ import annotations

import hmac
import ipaddress
import secrets

from flask import Flask, abort, g, request, session

TOKEN_COOKIE = "arena_token"


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serving_token(host: str, token: str | None, required: bool = False) -> str | None:
    """The token the server must check: the given one, else a fresh one when ``host`` is not loopback
    (or when ``required``: a study's researcher pages always need one)."""
    if token is not None and len(token) < 16:
        raise ValueError("--token must be at least 16 characters (or leave it out to have one generated)")
    if token is None and (required or not is_loopback(host)):
        return secrets.token_urlsafe(18)
    return token


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port ("[::1]:8765" -> "::1")."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
}


def _presented() -> str:
    header = request.headers.get("Authorization", "")
    bearer = header[7:] if header.startswith("Bearer ") else ""
    return request.args.get("token") or request.cookies.get(TOKEN_COOKIE) or bearer


def is_public(path: str, public: tuple[str, ...]) -> bool:
    """True for the paths anyone may open without the token (a study's participant pages)."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in public)


def researcher() -> bool:
    """True when this request carries the server's token (or the server has none)."""
    return bool(getattr(g, "researcher", False))


def install(app: Flask, token: str | None, hosts: frozenset[str] | None = None, public: tuple[str, ...] = ()) -> None:
    """Check the Host header (when ``hosts`` is given: loopback names and these), the token on every
    request but the ``public`` paths (when there is one), the form key on every POST; give each
    browser session an anonymous person id; add the security headers to every response."""

    @app.before_request
    def guard():
        if hosts is not None:
            name = host_name(request.host).lower()
            if not (is_loopback(name) or name in hosts):
                abort(403, "this server answers only to its own address (a guard against DNS rebinding); "
                           "start it with --allowed-host NAME to serve it under another name")
        g.researcher = token is None or hmac.compare_digest(_presented().encode(), token.encode())
        if not g.researcher and not is_public(request.path, public):
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
        response.headers.update(HEADERS)
        if response.mimetype == "text/html":  # pages hold private values: never kept by a shared cache
            response.headers["Cache-Control"] = "no-store"
        return response


def person() -> str:
    return session["person"]
