"""Where a webhook may be sent (server-side request forgery): a receiver must be an https URL (http only with
``WEBHOOK_ALLOW_HTTP``, the development default) whose host resolves only to global addresses — never loopback,
private, link-local, multicast, reserved or unspecified — unless the address lies in ``WEBHOOK_ALLOWED_NETWORKS``
(the government network's receivers) or the host is in ``WEBHOOK_ALLOWED_HOSTS``.

Checked when the URL is registered and again before every delivery (DNS can change in between); the delivery
then connects to the address just checked, so a second resolution cannot swap it (``pinned_post``). Only the
status code of the answer is kept: no response body, and one message for every failure to connect, so the
stored error says nothing about which ports of which host are open.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", [])]


def _forbidden(address: IpAddress) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _resolve(host: str, port: int) -> list[str]:
    try:
        return [ipaddress.ip_address(host).compressed]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({info[4][0].split("%")[0] for info in infos})


def webhook_target(url: str) -> Target:
    """The checked target of ``url``; ValidationError (field ``url``) naming why it is refused."""
    parts = urlsplit((url or "").strip())
    allowed_schemes = ("https", "http") if getattr(settings, "WEBHOOK_ALLOW_HTTP", False) else ("https",)
    if parts.scheme not in allowed_schemes:
        raise ValidationError(
            {
                "url": _("接收地址必须以 https:// 开头。")
                if allowed_schemes == ("https",)
                else _("接收地址必须以 http:// 或 https:// 开头。")
            }
        )
    if parts.username or parts.password:
        raise ValidationError({"url": _("接收地址中不能包含用户名或密码。")})
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise ValidationError({"url": _("接收地址缺少主机名。")})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError({"url": _("接收地址的端口无效。")}) from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if host in {h.lower() for h in getattr(settings, "WEBHOOK_ALLOWED_HOSTS", [])}:
        return Target(parts.scheme, host, port, path, ())
    addresses = _resolve(host, port)
    if not addresses:
        raise ValidationError({"url": _("接收地址的主机名“%(host)s”无法解析。") % {"host": host}})
    networks = _allowed_networks()
    for text in addresses:
        address = ipaddress.ip_address(text)
        if any(address in network for network in networks):
            continue
        if _forbidden(address):
            raise ValidationError(
                {
                    "url": _(
                        "接收地址解析到不允许的地址（回环、内网、链路本地、组播或保留地址）：%(address)s。"
                        "政务网内的接收系统须由管理员列入 WEBHOOK_ALLOWED_NETWORKS。"
                    )
                    % {"address": text}
                }
            )
    return Target(parts.scheme, host, port, path, tuple(addresses))


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def pinned_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """POST to ``url`` after checking its target again, connected to the checked address (no proxy, no redirect
    followed). Returns the status code (None when no answer) and an error text without anything the receiver
    sent."""
    try:
        target = webhook_target(url)
    except ValidationError as exc:
        return None, " ".join(exc.message_dict.get("url", exc.messages))
    address = target.addresses[0] if target.addresses else target.host
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target.host, target.port, address=address, timeout=timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException, ValueError):
        return None, _("无法连接接收地址或连接超时。")
    finally:
        connection.close()
    return status, "" if 200 <= status < 300 else f"HTTP {status}"
