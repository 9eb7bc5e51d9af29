"""Base URL normalisation and the policy on which hosts an integration may call.

Users type the base URL of an OpenAI-compatible API in several spellings (the guides
of VseGPT, OpenRouter, Ollama and others disagree), so ``normalize_base_url`` brings
them to one form that ends just before ``/chat/completions``.

``check_base_url`` additionally refuses loopback, private, link-local and other
non-public addresses unless local endpoints are allowed, so a tracker user who may
edit integration settings cannot make the worker call the cloud metadata service
(169.254.169.254) or other machines of the internal network.

DNS failures do not make ``check_base_url`` refuse a URL: a name that does not
resolve cannot be used to reach an internal host, and the call itself then fails as
``Unreachable`` with a clearer message. The check runs again before every call, but
it is not a defence against DNS rebinding between the check and the connect; where
that matters, restrict the workers' outgoing traffic with a firewall as well.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from .errors import UrlPolicyError

__all__ = ["check_base_url", "is_public_address", "normalize_base_url"]

_API_SUFFIXES = ("/chat/completions", "/models")

LOCAL_NOT_ALLOWED = (
    "Local and private network addresses are not allowed for integrations; an admin can "
    "allow local endpoints (needed for Ollama or vLLM on the same host)."
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _refuse(reason: str) -> UrlPolicyError:
    return UrlPolicyError(reason)


def normalize_base_url(
    url: str,
    *,
    api_suffixes: tuple[str, ...] = _API_SUFFIXES,
    default_path: str = "/v1",
) -> str:
    """Bring a user-typed base URL to the canonical ``scheme://host[:port]/path`` form.

    ``https://host``, ``https://host/v1``, ``https://host/v1/`` and
    ``https://host/v1/chat/completions`` all become ``https://host/v1``; a port is kept;
    other paths are kept minus a trailing slash and minus a trailing
    ``/chat/completions`` or ``/models``. The host name is lower-cased.

    Providers with another API layout pass their own ``api_suffixes`` (endpoint paths
    stripped from the end, compared case-insensitively) and ``default_path`` (used when
    nothing is left; "" keeps the bare host).

    Raises:
        UrlPolicyError: the text is not a usable http(s) URL (other scheme, no host,
            user name or password in the URL, query string or fragment, spaces).
    """
    if not isinstance(url, str):
        raise _refuse("The base URL must be text.")
    text = url.strip()
    if not text:
        raise _refuse("Enter the base URL of the API, for example https://api.openai.com/v1.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise _refuse("The base URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(text)
        port = parts.port
        hostname = parts.hostname
    except ValueError as exc:
        raise _refuse(f"The base URL is not a valid URL ({exc}).") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        if not parts.scheme or "://" not in text:
            raise _refuse(
                "The base URL must start with https:// or http://, "
                "for example https://api.openai.com/v1."
            )
        raise _refuse(f"The base URL must use https:// or http://, not {parts.scheme}://.")
    if parts.username is not None or parts.password is not None:
        raise _refuse(
            "The base URL must not contain a user name or password; "
            "put the API key in the API key field instead."
        )
    if not hostname:
        raise _refuse("The base URL has no host name, for example https://api.openai.com/v1.")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise _refuse("The base URL must not contain a query string (?...) or fragment (#...).")

    path = parts.path.rstrip("/")
    # Strip repeatedly so that normalising an already normalised URL changes nothing.
    stripped = True
    while stripped:
        stripped = False
        for suffix in api_suffixes:
            if suffix and path.lower().endswith(suffix.lower()):
                path = path[: -len(suffix)].rstrip("/")
                stripped = True
    if not path:
        path = default_path

    host = hostname.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    result = f"{scheme}://{netloc}{path}"
    try:
        # urlsplit is lenient; httpx is what will send the request, so ask it too.
        parsed = httpx.URL(result)
        if not parsed.host:
            raise ValueError("no host")
    except (httpx.InvalidURL, ValueError, UnicodeError):
        raise _refuse("The base URL is not a valid URL.") from None
    return result


def is_public_address(address: IPAddress) -> bool:
    """Return True when ``address`` is a public, globally routable unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        # IPv4 embedded in IPv6 (::ffff:a.b.c.d, 6to4 2002:AABB:CCDD::, Teredo) is judged by the
        # IPv4 address it reaches: 2002:7f00:1:: is 127.0.0.1 behind a 6to4 relay.
        embedded = address.ipv4_mapped or address.sixtofour or (
            address.teredo[1] if address.teredo else None
        )
        if embedded is not None:
            address = embedded
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
        or not address.is_global
    )


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        # The system resolver also accepts legacy IPv4 spellings such as "127.1",
        # "0x7f.0.0.1" or "2130706433"; treat them as the address they stand for.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def check_base_url(
    url: str,
    *,
    allow_local: bool,
    resolve: bool = True,
    api_suffixes: tuple[str, ...] = _API_SUFFIXES,
    default_path: str = "/v1",
) -> str:
    """Normalise ``url`` and check it against the URL policy; return the normalised URL.

    With ``allow_local=False`` the host must not be ``localhost`` nor be or resolve to a
    loopback, private (RFC 1918, fc00::/7), link-local (169.254.0.0/16, fe80::/10),
    unspecified, multicast, reserved or otherwise non-global address. With
    ``resolve=True`` host names are looked up and every returned address is checked;
    a failed lookup is not a reason to refuse (the call will fail as Unreachable).
    ``api_suffixes`` and ``default_path`` are passed to ``normalize_base_url``.

    Raises:
        UrlPolicyError: malformed URL, or a local address while local ones are refused.
    """
    normalized = normalize_base_url(url, api_suffixes=api_suffixes, default_path=default_path)
    if allow_local:
        return normalized
    parts = urlsplit(normalized)
    host = (parts.hostname or "").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        raise _refuse(f"The address {host} is on this machine. {LOCAL_NOT_ALLOWED}")
    literal = _literal_address(host.split("%", 1)[0])
    if literal is not None:
        if not is_public_address(literal):
            raise _refuse(
                f"The address {host} is a local or private network address. {LOCAL_NOT_ALLOWED}"
            )
        return normalized
    if resolve:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return normalized
        for info in infos:
            raw = str(info[4][0]).split("%", 1)[0]
            try:
                address = ipaddress.ip_address(raw)
            except ValueError:
                continue
            if not is_public_address(address):
                raise _refuse(
                    f"The host {host} resolves to the local or private address {address}. "
                    f"{LOCAL_NOT_ALLOWED}"
                )
    return normalized
