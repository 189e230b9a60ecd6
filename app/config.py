"""Settings, read once from the environment (and an optional ``.env`` file).

Nothing reads the environment anywhere else. A bad value stops start-up with
one line naming the variable (``ConfigError``).

What runs where is decided here. The *embedded default* is no
``STRIPE_SECRET_KEY``: the built-in Stripe, MediPay and Vipps sandboxes are
mounted under ``/_sandbox/`` (each unless STRIPE_API_BASE, MEDIPAY_URL or
VIPPS_API_BASE points elsewhere) and ``/demo`` is on: ``make run`` works with
nothing set. With a real Stripe key nothing demo-only runs unless named: ``SANDBOXES=medipay``
mounts the MediPay sandbox (the Stripe one never runs beside real Stripe),
and the app refuses to start while MediPay would otherwise have no address
(Vipps has one: VIPPS_API_BASE, the mounted sandbox, else Vipps' own API).
``DEMO=on|off`` overrides the demo's default; it is refused with a real key.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
SANDBOX_NAMES = ("stripe", "medipay", "vipps")
VIPPS_PRODUCTION = "https://api.vipps.no"
_ON = ("on", "true", "yes", "1")
_OFF = ("off", "false", "no", "0")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names the variable."""


def read_dotenv(path: Path) -> dict[str, str]:
    """The ``KEY=value`` lines of a ``.env`` file (comments and blanks skipped)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(f"{name} must be a URL starting with {' or '.join(schemes)}: {value!r}")
    return value.rstrip("/")


def normalise_database_url(value: str) -> str:
    """Accept the usual spellings and pick the async driver for each engine."""
    scheme, sep, rest = value.partition("://")
    if not sep:
        raise ConfigError(f"DATABASE_URL must look like sqlite:///file.db or postgresql://…: {value!r}")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in ("postgres", "postgresql"):
        return f"postgresql+asyncpg://{rest}"
    raise ConfigError(f"DATABASE_URL must use sqlite or postgresql, not {scheme!r}")


def _webhook_secrets(name: str, value: str | None) -> str | None:
    """One ``whsec_…`` signing secret, or several separated by commas while one is rolled."""
    if value is None:
        return None
    items = [item.strip() for item in value.split(",")]
    if not all(item.startswith("whsec_") and len(item) > len("whsec_") for item in items):
        raise ConfigError(f"{name} must be Stripe signing secrets (whsec_…), separated by commas during a roll")
    return ",".join(items)


def _persistent_secret(data_dir: Path, name: str, prefix: str = "") -> str:
    """A random secret kept in the data folder, for the embedded default only.

    The file is created 0600 in one step (no moment where it is readable by
    others, whatever the umask).
    """
    path = data_dir / name
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = prefix + secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value)
    return value


def _sandboxes(text: str | None, *, embedded: bool, stripe_api_base: str | None,
               medipay_url: str | None, vipps_api_base: str | None) -> frozenset[str]:
    """The built-in sandboxes this process serves.

    Unset means the embedded default: without STRIPE_SECRET_KEY, each sandbox
    that nothing else stands in for (STRIPE_API_BASE, MEDIPAY_URL,
    VIPPS_API_BASE); with a real key, none. Set, it names them:
    ``stripe,medipay,vipps``, or ``none``.
    """
    if text is None:
        if not embedded:
            return frozenset()
        return frozenset(name for name, elsewhere in (("stripe", stripe_api_base), ("medipay", medipay_url),
                                                      ("vipps", vipps_api_base))
                         if elsewhere is None)
    names = {part.strip().lower() for part in text.split(",") if part.strip()}
    if names == {"none"}:
        return frozenset()
    unknown = names - set(SANDBOX_NAMES)
    if unknown:
        raise ConfigError(f"SANDBOXES may name {', '.join(SANDBOX_NAMES)} (comma-separated), or none: {text!r}")
    return frozenset(names)


def _switch(name: str, text: str | None, default: bool) -> bool:
    if text is None:
        return default
    if text.lower() in _ON:
        return True
    if text.lower() in _OFF:
        return False
    raise ConfigError(f"{name} must be on or off: {text!r}")


def _networks(text: str | None) -> tuple[Network, ...]:
    """TRUSTED_PROXIES: addresses or networks (comma-separated) whose X-Forwarded-Proto is believed."""
    if text is None:
        return ()
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())
    except ValueError as e:
        raise ConfigError(f"TRUSTED_PROXIES must be IP addresses or networks, comma-separated: {text!r}") from e


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    database_url: str = "sqlite+aiosqlite:///consultpay.db"
    secret_key: str = field(default="", repr=False)
    redis_url: str | None = None
    redis_channel: str = "consultpay"
    stripe_secret_key: str | None = field(default=None, repr=False)
    # Each is one signing secret or, while one is rolled, several separated by commas.
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_connect_webhook_secret: str | None = field(default=None, repr=False)
    stripe_api_base: str | None = None
    medipay_url: str | None = None
    medipay_callback_secret: str | None = field(default=None, repr=False)
    vipps_api_base: str | None = None
    log_level: str = "INFO"
    data_dir: Path = Path("var")
    consult_ttl_seconds: int = 4 * 3600
    checkout_ttl_seconds: int = 31 * 60
    frame_ancestors: str = "*"
    shutdown_timeout_seconds: int = 10
    # A MediPay export row is held this long by the worker sending it; a worker
    # that dies mid-export leaves it to be taken again after this.
    medipay_export_lease_seconds: int = 120
    # How many claims one export run sends at the same time (bounded batching).
    medipay_export_concurrency: int = 16
    # The built-in sandboxes this process mounts under /_sandbox/ ("stripe", "medipay", "vipps").
    sandboxes: frozenset[str] = frozenset(SANDBOX_NAMES)
    # Whether /demo and ``seed-demo`` exist.
    demo: bool = True
    # Proxies whose X-Forwarded-Proto is believed (HSTS behind a TLS-terminating proxy).
    trusted_proxies: tuple[Network, ...] = ()
    # Past these a new socket event or REST call is answered "busy" at once (0: that bound off).
    overload_lag_ms: int = 200
    overload_in_flight: int = 128
    overload_queue_ms: int = 300

    @property
    def stripe_sandbox(self) -> bool:
        """No Stripe key configured: the built-in sandbox serves the Stripe API."""
        return self.stripe_secret_key is None

    @property
    def medipay_sandbox(self) -> bool:
        """No MEDIPAY_URL: the app's MediPay client talks to the built-in sandbox."""
        return self.medipay_url is None

    @property
    def https(self) -> bool:
        """PUBLIC_URL is https: every page is reached over TLS (HSTS is sent)."""
        return self.public_url.startswith("https://")

    @property
    def medipay_sandbox_url(self) -> str:
        return f"{self.public_url}/_sandbox/medipay"

    @property
    def medipay_base(self) -> str:
        """Where the MediPay client talks to: MEDIPAY_URL or the built-in sandbox."""
        return self.medipay_url or self.medipay_sandbox_url

    @property
    def vipps_sandbox_url(self) -> str:
        return f"{self.public_url}/_sandbox/vipps"

    @property
    def vipps_base(self) -> str:
        """Where the Vipps client talks to: VIPPS_API_BASE, the built-in sandbox, or Vipps' production API."""
        sandbox = self.vipps_sandbox_url if "vipps" in self.sandboxes else VIPPS_PRODUCTION
        return self.vipps_api_base or sandbox

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def stripe_sandbox_url(self) -> str:
        return f"{self.public_url}/_sandbox/stripe"

    @property
    def stripe_livemode(self) -> bool:
        """Whether the configured key is a live one: events of the other mode are not applied."""
        return (self.stripe_secret_key or "").startswith(("sk_live_", "rk_live_"))

    @property
    def stripe_key(self) -> str:
        """The key the SDK sends: the real one, or this deployment's sandbox key.

        The sandbox shows a key only the objects it made, so its key is a
        secret too: derived from SECRET_KEY, which every process of a
        deployment shares, rather than a name anyone can read in the source.
        """
        if self.stripe_secret_key:
            return self.stripe_secret_key
        digest = hmac.new(self.secret_key.encode(), b"stripe-sandbox-key", hashlib.sha256).hexdigest()
        return "sk_test_" + digest[:32]

    @property
    def stripe_base(self) -> str | None:
        """Where the SDK talks to: real Stripe (None), STRIPE_API_BASE or the sandbox."""
        if self.stripe_api_base:
            return self.stripe_api_base
        return self.stripe_sandbox_url if self.stripe_sandbox else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dotenv: Path | None = None) -> Settings:
        merged: dict[str, str] = dict(read_dotenv(dotenv or Path(".env")))
        merged.update(os.environ if env is None else env)

        def get(name: str) -> str | None:
            value = merged.get(name, "").strip()
            return value or None

        host = get("HOST") or "127.0.0.1"
        port_text = get("PORT") or "8080"
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"PORT must be a whole number from 1 to 65535: {port_text!r}")
        port = int(port_text)
        public_url = _url("PUBLIC_URL", get("PUBLIC_URL") or f"http://{host}:{port}", ("http", "https"))
        data_dir = Path(get("DATA_DIR") or "var")
        database_url = normalise_database_url(get("DATABASE_URL") or "sqlite:///consultpay.db")

        log_level = (get("LOG_LEVEL") or "INFO").upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}: {log_level!r}")

        redis_url = get("REDIS_URL")
        if redis_url:
            _url("REDIS_URL", redis_url, ("redis", "rediss", "unix"))
        # Processes that share a Redis channel share their sockets' rooms; two
        # deployments (or two test runs) on one Redis keep apart by channel.
        redis_channel = get("REDIS_CHANNEL") or "consultpay"
        if not redis_channel.replace("-", "").replace("_", "").replace(".", "").replace(":", "").isalnum():
            raise ConfigError(f"REDIS_CHANNEL may hold letters, digits and - _ . : only: {redis_channel!r}")

        stripe_secret_key = get("STRIPE_SECRET_KEY")
        if stripe_secret_key and not stripe_secret_key.startswith(("sk_", "rk_")):
            raise ConfigError("STRIPE_SECRET_KEY must be a Stripe secret key (sk_… or rk_…)")
        stripe_api_base = get("STRIPE_API_BASE")
        if stripe_api_base:
            stripe_api_base = _url("STRIPE_API_BASE", stripe_api_base, ("http", "https"))
        stripe_webhook_secret = _webhook_secrets("STRIPE_WEBHOOK_SECRET", get("STRIPE_WEBHOOK_SECRET"))
        stripe_connect_webhook_secret = _webhook_secrets(
            "STRIPE_CONNECT_WEBHOOK_SECRET", get("STRIPE_CONNECT_WEBHOOK_SECRET")
        )
        medipay_url = get("MEDIPAY_URL")
        if medipay_url:
            medipay_url = _url("MEDIPAY_URL", medipay_url, ("http", "https"))
        vipps_api_base = get("VIPPS_API_BASE")
        if vipps_api_base:
            vipps_api_base = _url("VIPPS_API_BASE", vipps_api_base, ("http", "https"))

        secret_key = get("SECRET_KEY")
        embedded = stripe_secret_key is None
        if secret_key is None:
            if not embedded:
                raise ConfigError("SECRET_KEY must be set when STRIPE_SECRET_KEY is set")
            secret_key = _persistent_secret(data_dir, "secret_key")
        elif len(secret_key) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters long")
        if stripe_webhook_secret is None:
            if not embedded:
                # Refuse to run a real integration that cannot verify its webhooks.
                raise ConfigError("STRIPE_WEBHOOK_SECRET must be set when STRIPE_SECRET_KEY is set")
            stripe_webhook_secret = _persistent_secret(data_dir, "stripe_webhook_secret", "whsec_")
        if stripe_connect_webhook_secret is None:
            if not embedded:
                # Payments and refunds happen on the clinics' connected accounts, so
                # only the Connect endpoint hears of them: without it none settles.
                raise ConfigError("STRIPE_CONNECT_WEBHOOK_SECRET must be set when STRIPE_SECRET_KEY is set")
            stripe_connect_webhook_secret = _persistent_secret(
                data_dir, "stripe_connect_webhook_secret", "whsec_"
            )
        medipay_callback_secret = get("MEDIPAY_CALLBACK_SECRET")
        if medipay_callback_secret is None:
            if medipay_url is not None:
                # Refuse to run a real integration that cannot verify its callbacks.
                raise ConfigError("MEDIPAY_CALLBACK_SECRET must be set when MEDIPAY_URL is set")
            medipay_callback_secret = _persistent_secret(data_dir, "medipay_callback_secret", "mpsec_")

        sandboxes = _sandboxes(get("SANDBOXES"), embedded=embedded, stripe_api_base=stripe_api_base,
                               medipay_url=medipay_url, vipps_api_base=vipps_api_base)
        if not embedded and "stripe" in sandboxes:
            # It would sign its made-up events with the real webhook secret.
            raise ConfigError("SANDBOXES may not name stripe when STRIPE_SECRET_KEY is set")
        if embedded and stripe_api_base is None and "stripe" not in sandboxes:
            raise ConfigError("STRIPE_SECRET_KEY (or STRIPE_API_BASE) must be set when SANDBOXES leaves out stripe")
        if medipay_url is None and "medipay" not in sandboxes:
            # Never fall back to the built-in MediPay sandbox unasked: with real
            # payments it would receive real claims and show them to anyone.
            if embedded:
                raise ConfigError("MEDIPAY_URL must be set when SANDBOXES leaves out medipay")
            raise ConfigError("MEDIPAY_URL must be set when STRIPE_SECRET_KEY is set "
                              "(or SANDBOXES=medipay for the built-in MediPay sandbox)")
        demo = _switch("DEMO", get("DEMO"), default=embedded)
        if demo and not embedded:
            # The demo seeds an organisation, an API key and a Stripe account: never on real Stripe.
            raise ConfigError("DEMO must be off when STRIPE_SECRET_KEY is set")

        def whole(name: str, default: int, low: int, high: int, unit: str = "") -> int:
            text = get(name)
            if text is None:
                return default
            if not text.isdigit() or not low <= int(text) <= high:
                raise ConfigError(f"{name} must be a whole number{unit} from {low} to {high}")
            return int(text)

        def seconds(name: str, default: int, low: int, high: int) -> int:
            return whole(name, default, low, high, " of seconds")

        return cls(
            host=host,
            port=port,
            public_url=public_url,
            database_url=database_url,
            secret_key=secret_key,
            redis_url=redis_url,
            redis_channel=redis_channel,
            stripe_secret_key=stripe_secret_key,
            stripe_webhook_secret=stripe_webhook_secret,
            stripe_connect_webhook_secret=stripe_connect_webhook_secret,
            stripe_api_base=stripe_api_base,
            medipay_url=medipay_url,
            medipay_callback_secret=medipay_callback_secret,
            vipps_api_base=vipps_api_base,
            log_level=log_level,
            data_dir=data_dir,
            consult_ttl_seconds=seconds("CONSULT_TTL_SECONDS", 4 * 3600, 300, 7 * 86400),
            # Stripe refuses an expires_at under 30 minutes; a call needs no more.
            checkout_ttl_seconds=seconds("CHECKOUT_TTL_SECONDS", 31 * 60, 31 * 60, 86400),
            frame_ancestors=get("FRAME_ANCESTORS") or "*",
            # How long a stopping web process lets requests in flight finish.
            shutdown_timeout_seconds=seconds("SHUTDOWN_TIMEOUT_SECONDS", 10, 1, 600),
            medipay_export_lease_seconds=seconds("MEDIPAY_EXPORT_LEASE_SECONDS", 120, 1, 3600),
            medipay_export_concurrency=whole("MEDIPAY_EXPORT_CONCURRENCY", 16, 1, 256),
            sandboxes=sandboxes,
            demo=demo,
            trusted_proxies=_networks(get("TRUSTED_PROXIES")),
            overload_lag_ms=whole("OVERLOAD_LAG_MS", 200, 0, 60_000),
            overload_in_flight=whole("OVERLOAD_IN_FLIGHT", 128, 0, 100_000),
            overload_queue_ms=whole("OVERLOAD_QUEUE_MS", 300, 0, 60_000),
        )


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet = max(logging.WARNING, logging.getLevelName(settings.log_level))
    for noisy in ("alembic", "stripe"):
        logging.getLogger(noisy).setLevel(quiet)
