"""Secrets stay out of the file: passwords are ``${ENV_VAR}`` references, URLs carry none."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from checkers.config.context import Context
from checkers.config.document import Path

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Query parameters drivers accept a password in (libpq's password=, some MySQL URLs' passwd=).
SECRET_PARAMETERS = {"password", "passwd", "pwd"}


def password(ctx: Context, path: Path, value: str | None, owner: str) -> dict[str, str]:
    """The datasource's ``password`` and ``password_env``; the literal is never echoed back."""
    if value is None:
        return {"password": "", "password_env": ""}
    match = REFERENCE.fullmatch(value.strip())
    if match is None:
        ctx.error(
            path,
            "a password is never written in the file: reference an environment variable "
            "instead, for example password: ${SHOP_DB_PASSWORD}, and set it where you import",
        )
        return {"password": "", "password_env": ""}
    name = match.group(1)
    if name not in ctx.environ:
        ctx.error(path, f"environment variable {name} is not set; it holds the password of {owner}")
        return {"password": "", "password_env": name}
    return {"password": ctx.environ[name], "password_env": name}


def expand(ctx: Context, path: Path, text: str, owner: str) -> str:
    """``${VAR}`` in a URL, from the environment: where a path or host differs per machine."""
    missing = [name for name in REFERENCE.findall(text) if name not in ctx.environ]
    for name in dict.fromkeys(missing):
        ctx.error(path, f"environment variable {name} is not set; the URL of {owner} uses it")
    return REFERENCE.sub(lambda m: ctx.environ.get(m.group(1), m.group(0)), text)


def has_password(url: str) -> bool:
    try:
        parts = urlsplit(url)
        in_userinfo = parts.password is not None
    except ValueError:
        return False
    return in_userinfo or any(k.lower() in SECRET_PARAMETERS for k, _ in parse_qsl(parts.query))


def without_password(url: str) -> str:
    """The URL with any password in it removed: what an export may show."""
    if not has_password(url):
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}@{hostport}"
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() not in SECRET_PARAMETERS
        ]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def env_name(*parts: str) -> str:
    """``MALLEABLE_GROWTH_SHOP_PASSWORD``: a variable name for a password the file never named."""
    words = ["MALLEABLE", *parts, "PASSWORD"]
    return "_".join(re.sub(r"[^A-Za-z0-9]+", "_", word).strip("_").upper() for word in words)
