"""Secrets stay out of the file: passwords and secrets are ``${ENV_VAR}`` references, and a
URL carries none written out: only inside a reference."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from checks_as_code.config.context import Context
from checks_as_code.config.document import Path

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Query parameters drivers accept a password in (libpq's password=, some MySQL URLs' passwd=).
SECRET_PARAMETERS = {"password", "passwd", "pwd"}
# And those web services put tokens in, for channel URLs (webhooks, queues).
TOKEN_PARAMETERS = SECRET_PARAMETERS | {"token", "access_token", "secret", "key", "api_key", "apikey"}


def password(ctx: Context, path: Path, value: str | None, owner: str) -> dict[str, str]:
    """The datasource's ``password`` and ``password_env``; the literal is never echoed back."""
    secret, name = reference(ctx, path, value, f"the password of {owner}", "password: ${SHOP_DB_PASSWORD}")
    return {"password": secret, "password_env": name}


def reference(ctx: Context, path: Path, value: str | None, what: str, example: str) -> tuple[str, str]:
    """A secret written as ``${VAR}``: its value and the variable's name (empty when absent)."""
    if value is None:
        return "", ""
    match = REFERENCE.fullmatch(value.strip())
    if match is None:
        noun = example.split(":")[0]
        ctx.error(
            path,
            f"a {noun} is never written in the file: reference an environment variable "
            f"instead, for example {example}, and set it where you import",
        )
        return "", ""
    name = match.group(1)
    if name not in ctx.environ:
        ctx.error(path, f"environment variable {name} is not set; it holds {what}")
        return "", name
    return ctx.environ[name], name


def expand(ctx: Context, path: Path, text: str, owner: str) -> str:
    """``${VAR}`` in a URL, from the environment: where a path or host differs per machine."""
    missing = [name for name in REFERENCE.findall(text) if name not in ctx.environ]
    for name in dict.fromkeys(missing):
        ctx.error(path, f"environment variable {name} is not set; the URL of {owner} uses it")
    return REFERENCE.sub(lambda m: ctx.environ.get(m.group(1), m.group(0)), text)


def written_secret(text: str) -> str | None:
    """The kind of secret ``text`` (a URL, before its references are expanded) spells out, if
    any: a password or token that is not wholly inside a ``${VAR}`` reference."""
    bare = REFERENCE.sub("", text)
    try:
        parts = urlsplit(bare)
        password = parts.password
    except ValueError:
        return None
    if password:
        return "a password"
    named = [
        k for k, v in parse_qsl(parts.query, keep_blank_values=True) if v and k.lower() in TOKEN_PARAMETERS
    ]
    return f"a secret ({named[0]}=)" if named else None


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


def env_name(*parts: str, what: str = "PASSWORD") -> str:
    """``MALLEABLE_GROWTH_SHOP_PASSWORD``: a variable name for a secret the file never named."""
    words = ["MALLEABLE", *parts, what]
    return "_".join(re.sub(r"[^A-Za-z0-9]+", "_", word).strip("_").upper() for word in words)
