"""Base URL normalisation and the local-address policy."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations import UrlPolicyError, check_base_url, normalize_base_url


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # The three spellings from VseGPT's guide.
        ("https://api.vsegpt.ru", "https://api.vsegpt.ru/v1"),
        ("https://api.vsegpt.ru/v1", "https://api.vsegpt.ru/v1"),
        ("https://api.vsegpt.ru/v1/", "https://api.vsegpt.ru/v1"),
        ("https://api.vsegpt.ru/v1/chat/completions", "https://api.vsegpt.ru/v1"),
        ("https://api.vsegpt.ru/v1/chat/completions/", "https://api.vsegpt.ru/v1"),
        ("https://api.vsegpt.ru:6070", "https://api.vsegpt.ru:6070/v1"),
        ("https://api.vsegpt.ru:6070/v1/", "https://api.vsegpt.ru:6070/v1"),
        ("https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1"),
        ("https://openrouter.ai/api/v1/models", "https://openrouter.ai/api/v1"),
        ("http://localhost:11434/v1", "http://localhost:11434/v1"),
        ("  HTTPS://API.OpenAI.com/v1/  ", "https://api.openai.com/v1"),
        ("http://[::1]:8000/v1", "http://[::1]:8000/v1"),
        (
            "https://gw.example.com/openai/deployments/x/",
            "https://gw.example.com/openai/deployments/x",
        ),
    ],
)
def test_normalize_base_url(typed: str, expected: str) -> None:
    assert normalize_base_url(typed) == expected
    assert normalize_base_url(expected) == expected


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "Enter the base URL"),
        ("api.openai.com/v1", "must start with https:// or http://"),
        ("ftp://example.com/v1", "not ftp://"),
        ("file:///etc/passwd", "not file://"),
        ("https://", "no host"),
        ("https://user:pw@example.com/v1", "user name or password"),
        ("https://example.com/v1?key=1", "query string"),
        ("https://example.com/v1#frag", "fragment"),
        ("https://exa mple.com/v1", "spaces"),
        ("https://example.com:99999/v1", "not a valid URL"),
    ],
)
def test_normalize_base_url_refuses(typed: str, reason: str) -> None:
    with pytest.raises(UrlPolicyError, match=reason):
        normalize_base_url(typed)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.7:8000/v1",
        "http://192.168.1.10/v1",
        "http://172.16.5.4/v1",
        "http://127.0.0.1:11434/v1",
        "http://127.1/v1",  # legacy short form of 127.0.0.1
        "http://2130706433/v1",  # 127.0.0.1 as one decimal number
        "http://0.0.0.0/v1",
        "http://[::1]:8000/v1",
        "http://[fe80::1]/v1",
        "http://[fd12:3456::1]/v1",
        "http://[::ffff:10.0.0.1]/v1",
        "http://224.0.0.1/v1",
        "http://240.0.0.1/v1",
        "http://100.64.0.1/v1",
        "http://localhost:11434/v1",
        "http://api.localhost/v1",
    ],
)
def test_local_addresses_refused_unless_allowed(url: str) -> None:
    with pytest.raises(UrlPolicyError, match="an admin can allow local endpoints"):
        check_base_url(url, allow_local=False, resolve=False)
    assert check_base_url(url, allow_local=True) == normalize_base_url(url)


@pytest.mark.parametrize(
    "url",
    ["https://93.184.216.34/v1", "http://8.8.8.8:8080/v1", "https://[2606:4700:4700::1111]/v1"],
)
def test_public_addresses_allowed(url: str) -> None:
    assert check_base_url(url, allow_local=False, resolve=False) == normalize_base_url(url)


def test_check_base_url_normalizes() -> None:
    assert (
        check_base_url(
            "https://api.vsegpt.ru/v1/chat/completions", allow_local=False, resolve=False
        )
        == "https://api.vsegpt.ru/v1"
    )


def test_malformed_url_refused_even_when_local_allowed() -> None:
    with pytest.raises(UrlPolicyError):
        check_base_url("gopher://example.com", allow_local=True)


def _fake_resolver(*addresses: str) -> Any:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    return getaddrinfo


def test_host_resolving_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _fake_resolver("93.184.216.34", "10.1.2.3"))
    with pytest.raises(UrlPolicyError, match="resolves to the local or private address 10.1.2.3"):
        check_base_url("https://llm.internal.example/v1", allow_local=False)
    # Without resolving, the name alone is not refused.
    assert check_base_url("https://llm.internal.example/v1", allow_local=False, resolve=False)


def test_host_resolving_to_public_addresses_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _fake_resolver("93.184.216.34"))
    assert (
        check_base_url("https://api.example.com", allow_local=False) == "https://api.example.com/v1"
    )


def test_dns_failure_is_not_a_policy_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", broken)
    assert (
        check_base_url("https://nowhere.example", allow_local=False) == "https://nowhere.example/v1"
    )


# ---------------------------------------------------------------- properties

_url_like = st.builds(
    lambda scheme, host, port, path: f"{scheme}{host}{port}{path}",
    st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "", "http:/", "https:///"]),
    st.one_of(
        st.sampled_from(["example.com", "127.0.0.1", "[::1]", "[fe80::1%eth0]", "xn--d1a", "a@b"]),
        st.text(min_size=0, max_size=12),
    ),
    st.sampled_from(["", ":8080", ":0", ":65536", ":x", ":"]),
    st.one_of(
        st.sampled_from(["", "/", "/v1", "/v1/chat/completions", "/models/models", "?q", "#f"]),
        st.text(max_size=20),
    ),
)


# No example database (it would write .hypothesis/ into the work tree) and no deadline
# (a loaded CI machine must not turn a slow example into a failure).
quiet = settings(database=None, deadline=None)


@quiet
@given(st.one_of(st.text(max_size=60), _url_like))
def test_normalize_base_url_only_ever_raises_url_policy_error(text: str) -> None:
    try:
        result = normalize_base_url(text)
    except UrlPolicyError as exc:
        assert exc.user_message
        return
    assert result.startswith(("http://", "https://"))
    assert not result.endswith(("/", "/chat/completions", "/models"))
    # Normalising twice changes nothing, so the stored and the used URL agree.
    assert normalize_base_url(result) == result


@quiet
@given(_url_like)
def test_check_base_url_only_ever_raises_url_policy_error(text: str) -> None:
    try:
        check_base_url(text, allow_local=False, resolve=False)
    except UrlPolicyError:
        pass


def test_ipv4_embedded_in_ipv6_is_judged_by_its_ipv4_address() -> None:
    import ipaddress

    from integrations.urls import is_public_address

    assert not is_public_address(ipaddress.ip_address("2002:7f00:1::"))  # 6to4 of 127.0.0.1
    assert not is_public_address(ipaddress.ip_address("2002:a9fe:a9fe::"))  # 169.254.169.254
    assert not is_public_address(ipaddress.ip_address("::ffff:10.0.0.1"))
    assert is_public_address(ipaddress.ip_address("2002:5db8:d822::"))  # 93.184.216.34
