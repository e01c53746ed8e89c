"""Settings, read once from ``PARLEY_*`` variables (and command-line flags) into a frozen object."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server and the ``parley`` command are configured with.

    Attributes:
        data_dir: local state: the default SQLite database and the signing key.
        database_url: SQLAlchemy async URL; defaults to ``sqlite+aiosqlite:///<data_dir>/parley.db``.
        public_url: base of invite links and the one browser origin allowed.
        redis_url: turns on the Redis fan-out when set.
        host, port: where ``parley serve`` listens.
        sqlite_synchronous: SQLite ``synchronous`` pragma; FULL makes a commit survive power loss.
        max_batch: the most events one group commit writes.
        max_frame_bytes: WebSocket text frames above this are refused (``frame_too_large``);
            above 16 times this the socket is closed (1009).
        max_text_chars: the longest message text.
        commands_per_second, command_burst: the token bucket of each connection.
        queue_frames: frames held for a slow reader before it is closed (4008).
        send_buffer_bytes: bytes a socket may hold unread by its peer before it is closed (4008).
        hello_timeout: seconds a new WebSocket has to send ``hello``.
        header_timeout: seconds a connection has to send a request's complete headers, counted
            from its first byte (or from the connection's opening).
        body_timeout: seconds a request has to send its complete body after its headers.
        keepalive_timeout: seconds an idle keep-alive connection is held between requests.
        connections_per_address: concurrent connections from one client address (not counting
            trusted proxies, which should enforce their own limit).
        redeem_per_minute, redeem_burst: each address's token bucket for invite redemption.
        redeem_backoff_after: failed redemptions in a row after which an address waits
            1, 2, 4 ... seconds (up to ``redeem_backoff_cap``) before the next attempt.
        upgrades_per_minute, upgrade_burst: each address's token bucket for new WebSockets.
        trusted_proxies: networks whose ``X-Forwarded-For`` names the client address.
        tls_cert, tls_key: serve HTTPS with this certificate chain and private key.
    """

    data_dir: Path
    database_url: str
    public_url: str = DEFAULT_PUBLIC_URL
    redis_url: str | None = None
    key_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    sqlite_synchronous: str = "FULL"
    max_batch: int = 1000
    max_frame_bytes: int = 65_536
    max_text_chars: int = 8_000
    commands_per_second: int = 20
    command_burst: int = 40
    queue_frames: int = 2_000
    send_buffer_bytes: int = 4 * 2**20
    hello_timeout: float = 10.0
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    keepalive_timeout: float = 30.0
    connections_per_address: int = 256
    redeem_per_minute: int = 60
    redeem_burst: int = 60
    redeem_backoff_after: int = 10
    redeem_backoff_cap: float = 900.0
    upgrades_per_minute: int = 120
    upgrade_burst: int = 240
    trusted_proxies: tuple[str, ...] = ()
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def https(self) -> bool:
        """The public URL is https: cookies are ``Secure`` and HSTS is sent."""
        return self.public_url.startswith("https:")

    @property
    def database_kind(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return database_kind(self.database_url)

    @property
    def signing_key_path(self) -> Path:
        return self.key_file or self.data_dir / "signing.key"

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields replaced (command-line flags); ``None`` leaves a field."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]


def database_kind(url: str) -> str:
    """Name the database of an async SQLAlchemy URL, or raise :class:`SettingsError`."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite+aiosqlite":
        return "sqlite"
    if scheme == "postgresql+asyncpg":
        return "postgresql"
    raise SettingsError(
        f"PARLEY_DATABASE_URL: unsupported database URL scheme {scheme or '(none)'!r}; "
        "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB"
    )


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("PARLEY_DATA_DIR", "./var")).expanduser()
    url = env.get("PARLEY_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'parley.db'}"
    database_kind(url)
    public_url = env.get("PARLEY_PUBLIC_URL", DEFAULT_PUBLIC_URL).rstrip("/")
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"PARLEY_PUBLIC_URL: {public_url!r} is not an http(s) URL")
    synchronous = env.get("PARLEY_SQLITE_SYNCHRONOUS", "FULL").upper()
    if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise SettingsError(
            f"PARLEY_SQLITE_SYNCHRONOUS: {synchronous!r} is not OFF/NORMAL/FULL/EXTRA"
        )
    key_file = env.get("PARLEY_KEY_FILE")
    return Settings(
        data_dir=data_dir,
        database_url=url,
        public_url=public_url,
        redis_url=env.get("PARLEY_REDIS_URL") or None,
        key_file=Path(key_file) if key_file else None,
        host=env.get("PARLEY_HOST", "127.0.0.1"),
        port=_int(env, "PARLEY_PORT", 8080, 0, 65535),
        sqlite_synchronous=synchronous,
        max_batch=_int(env, "PARLEY_MAX_BATCH", 1000, 1, 100_000),
        max_frame_bytes=_int(env, "PARLEY_MAX_FRAME_BYTES", 65_536, 1024, 16 * 2**20),
        max_text_chars=_int(env, "PARLEY_MAX_TEXT_CHARS", 8_000, 1, 1_000_000),
        commands_per_second=_int(env, "PARLEY_COMMANDS_PER_SECOND", 20, 1, 100_000),
        command_burst=_int(env, "PARLEY_COMMAND_BURST", 40, 1, 100_000),
        queue_frames=_int(env, "PARLEY_QUEUE_FRAMES", 2_000, 10, 1_000_000),
        send_buffer_bytes=_int(env, "PARLEY_SEND_BUFFER_BYTES", 4 * 2**20, 64 * 1024, 1024 * 2**20),
        hello_timeout=float(_int(env, "PARLEY_HELLO_TIMEOUT", 10, 1, 3600)),
        header_timeout=float(_int(env, "PARLEY_HEADER_TIMEOUT", 10, 1, 3600)),
        body_timeout=float(_int(env, "PARLEY_BODY_TIMEOUT", 30, 1, 3600)),
        keepalive_timeout=float(_int(env, "PARLEY_KEEPALIVE_TIMEOUT", 30, 1, 3600)),
        connections_per_address=_int(env, "PARLEY_CONNECTIONS_PER_ADDRESS", 256, 1, 1_000_000),
        redeem_per_minute=_int(env, "PARLEY_REDEEM_PER_MINUTE", 60, 1, 1_000_000),
        redeem_burst=_int(env, "PARLEY_REDEEM_BURST", 60, 1, 1_000_000),
        redeem_backoff_after=_int(env, "PARLEY_REDEEM_BACKOFF_AFTER", 10, 1, 1_000_000),
        redeem_backoff_cap=float(_int(env, "PARLEY_REDEEM_BACKOFF_CAP", 900, 1, 86_400)),
        upgrades_per_minute=_int(env, "PARLEY_UPGRADES_PER_MINUTE", 120, 1, 1_000_000),
        upgrade_burst=_int(env, "PARLEY_UPGRADE_BURST", 240, 1, 1_000_000),
        trusted_proxies=_networks(env, "PARLEY_TRUSTED_PROXIES"),
        tls_cert=_path(env, "PARLEY_TLS_CERT"),
        tls_key=_path(env, "PARLEY_TLS_KEY"),
    )


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR networks, each checked and normalised."""
    found = []
    for item in env.get(name, "").split(","):
        if not item.strip():
            continue
        try:
            found.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise SettingsError(f"{name}: {item.strip()!r} is not an address or network") from None
    return tuple(found)


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    return Path(raw).expanduser() if raw else None


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: {raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}: {value} is outside {low}..{high}")
    return value
