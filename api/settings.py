"""Process configuration: environment variables prefixed ``PAYOUTS_`` (and an optional .env)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.webhook_endpoints.policy import DEFAULT_RETRY_SCHEDULE, WebhookPolicy

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./payouts.db"
# Signs client-session tokens in the embedded default only: refused in production shape.
DEV_CLIENT_SESSION_SECRET = "dev-only-client-session-secret-change-me"
DEV_SECRET_KEY = "dev-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYOUTS_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_SQLITE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = Field(
        default=None, description="Where providers reach /webhooks; defaults to the serve address"
    )
    graphiql: bool = True
    introspection: bool = True
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Query limits (see README "Security").
    max_query_depth: int = 12
    max_query_tokens: int = 2000
    max_query_aliases: int = 30
    # Selections once fragments are inlined, and comparisons of same-name selections that
    # validation makes one by one: both bound the work done before a key is checked.
    max_query_fields: int = Field(default=2000, ge=1)
    max_query_comparisons: int = Field(default=1000, ge=0)
    max_query_bytes: int = 100_000
    # Deepest nesting of arrays/objects accepted in a JSON request body or WebSocket message.
    max_json_depth: int = Field(default=64, ge=2, le=512)
    # A request body must arrive in full within this time (slow-body clients hold connections).
    request_body_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    ws_init_timeout_seconds: float = 10.0
    ws_max_operations: int = 20
    ws_max_message_bytes: int = 1_048_576
    # How often each process checks the keys of its open WebSockets for revocation (the event
    # bus announces revocations sooner where it reaches: PostgreSQL).
    ws_revocation_check_seconds: float = Field(default=0.5, gt=0, le=3600)
    # WebSocket keepalive (uvicorn): a ping every interval; no pong within the timeout closes.
    ws_ping_interval_seconds: float = Field(default=20.0, gt=0, le=3600)
    ws_ping_timeout_seconds: float = Field(default=20.0, gt=0, le=3600)
    # Parsed documents kept, with what the checks derived from them (api/document_cache.py):
    # at most this many, within this many objects for the garbage collector to visit.
    parser_cache_size: int = Field(default=512, ge=0)
    document_cache_objects: int = Field(default=25_000, ge=0)

    # Secrets. The defaults only suit the embedded sandbox; deployments must set their own.
    secret_key: str = DEV_SECRET_KEY
    sandbox_webhook_secret: str = "whsec_c2FuZGJveC1kZXYtb25seS13ZWJob29rLXNlY3JldA=="
    # Client sessions and trusted documents (SPEC §3.12, docs/frontend.md).
    client_session_secret: str = Field(default=DEV_CLIENT_SESSION_SECRET, min_length=32)
    trusted_documents: str | None = Field(
        default=None, description="persisted-documents.json: {sha256 id: document}"
    )
    # None: "client_sessions" when a file is set, else "off".
    trusted_documents_mode: Literal["client_sessions", "all", "off"] | None = None

    sandbox_delay_seconds: float = 2.0
    sandbox_refuse_transfers: bool = False
    sandbox_delivery_lease_seconds: float = Field(default=30.0, gt=0)
    # Live provider (SPEC §3.9, docs/going-live-stripe.md). ``live_provider`` defaults to
    # "stripe" once a Stripe secret key is set (unless test mode runs on Stripe instead).
    live_provider: Literal["none", "stripe"] | None = None
    test_provider: Literal["sandbox", "stripe"] = "sandbox"
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None  # whsec_…; several, comma separated
    stripe_api_base: str | None = None  # tests point it at the Stripe double

    # Payouts (README "Payouts"): fee = amount * bps / 10000 (rounded down) + fixed cents.
    payout_fee_bps: int = Field(default=0, ge=0, le=10_000)
    payout_fee_fixed: int = Field(default=0, ge=0)
    payout_max_attempts: int = Field(default=5, ge=1)
    payout_retry_base_seconds: float = Field(default=2.0, gt=0)
    payout_retry_grace_seconds: float = Field(default=10.0, ge=0)
    payout_claim_lease_seconds: float = Field(default=30.0, gt=0)
    # An idempotency key still IN_PROGRESS after this long belongs to a request whose process
    # died mid-way: the next request with the key takes it over (README "Idempotency").
    idempotency_stale_claim_seconds: float = Field(default=60.0, gt=0, le=86_400)
    reconciler_interval_seconds: float = Field(default=1.0, gt=0)
    balance_release_interval_seconds: float = Field(default=0.5, gt=0)
    # Fault injection for tests only (services/infra/faults.py): SIGKILL the process between a
    # payout's commit and its provider call (the reconciler must finish the payout after a restart).
    fault_kill_after_payout_commit: bool = False
    # Live updates (README "Live updates"): the bus defaults to "memory" on SQLite and
    # "postgres" (LISTEN/NOTIFY, reaches every process) on PostgreSQL.
    event_bus: Literal["memory", "postgres"] | None = None
    event_channel: str = Field(default="payouts_events", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    subscription_queue_size: int = Field(default=256, ge=1, le=100_000)

    # PostgreSQL connections per process: this many pooled, as many again under bursts.
    db_pool_size: int = Field(default=10, ge=1, le=200)

    demo_org_on_start: bool = True
    sql_echo: bool = False
    log_level: str = "INFO"

    # Hardening (README "Security" and "Observability").
    max_query_cost: int = Field(default=1000, ge=1)
    cost_default_page_size: int = Field(default=20, ge=1)
    rate_limit_enabled: bool = True
    rate_limit_bucket_size: int = Field(default=10_000, ge=1)
    rate_limit_refill_per_second: float = Field(default=500.0, gt=0)
    # Valid API keys are remembered this long per process, only while the PostgreSQL event bus
    # listens (a revocation empties every process's cache at once); 0 turns the cache off.
    # At most 60 s: a cached request does not refresh the key's last_used_at.
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    api_key_cache_size: int = Field(default=10_000, ge=1)
    # Where rate-limit buckets live: "memory" (this process), "database" (shared by every
    # process), "redis" (shared, needs redis_url). Default: redis when redis_url is set, else
    # memory.
    rate_limit_store: Literal["memory", "database", "redis"] | None = None
    redis_url: str | None = None
    redis_key_prefix: str = "payouts:"
    log_format: Literal["json", "text"] = "json"
    metrics_enabled: bool = True
    metrics_token: str | None = None

    # Outbound webhooks (SPEC §3.10, docs/webhooks.md).
    webhook_retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE),
        description="Seconds before each retry, comma-separated (1 + len attempts in all)",
    )
    # Development and tests only: also allows http and loopback/private targets.
    webhook_allow_private_urls: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    webhook_concurrency: int = Field(default=32, ge=1, le=1000)
    webhook_endpoint_concurrency: int = Field(default=8, ge=1, le=100)
    webhook_rotation_overlap_seconds: float = Field(default=86_400.0, ge=0)
    webhook_poll_interval_seconds: float = Field(default=0.25, gt=0, le=60)
    webhook_deliverer_enabled: bool = True

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        return _split_csv(value) if isinstance(value, str) else value

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        return _split_csv(value) if isinstance(value, str) else value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule_in_range(cls, value: list[float]) -> list[float]:
        if len(value) > 20 or any(not 0 <= delay <= 7 * 86_400 for delay in value):
            raise ValueError("at most 20 retries, each 0 to 604800 seconds")
        return value

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> Settings:
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("webhook_lease_seconds must exceed webhook_timeout_seconds")
        return self

    @model_validator(mode="after")
    def _bucket_holds_a_query(self) -> Settings:
        if self.rate_limit_bucket_size < self.max_query_cost:
            raise ValueError("rate_limit_bucket_size must be at least max_query_cost")
        return self

    @model_validator(mode="after")
    def _mode_needs_documents(self) -> Settings:
        if self.trusted_documents_mode in ("client_sessions", "all") and not self.trusted_documents:
            raise ValueError(
                f"PAYOUTS_TRUSTED_DOCUMENTS_MODE={self.trusted_documents_mode} needs "
                "PAYOUTS_TRUSTED_DOCUMENTS (the persisted documents file)"
            )
        return self

    @property
    def trusted_documents_enforcement(self) -> Literal["client_sessions", "all", "off"]:
        if self.trusted_documents_mode is not None:
            return self.trusted_documents_mode
        return "client_sessions" if self.trusted_documents else "off"

    @model_validator(mode="after")
    def _providers_are_safe(self) -> Settings:
        live, test = self.live_provider_name, self.test_provider
        if "stripe" not in (live, test):
            return self
        key = self.stripe_secret_key or ""
        if not key:
            raise ValueError("PAYOUTS_STRIPE_SECRET_KEY is required for the Stripe provider")
        if not self.stripe_webhook_secrets:
            raise ValueError("PAYOUTS_STRIPE_WEBHOOK_SECRET (whsec_…) is required for Stripe")
        if live == "stripe" and test == "stripe":
            raise ValueError("one Stripe secret key cannot serve both live and test mode")
        if live == "stripe":
            if not key.startswith(("sk_live_", "rk_live_")):
                raise ValueError("the live provider needs a live Stripe key (sk_live_/rk_live_)")
            if self.secret_key == DEV_SECRET_KEY:
                raise ValueError(
                    "a live payout provider is configured: set PAYOUTS_SECRET_KEY to your own "
                    "secret (the development default is refused)"
                )
        if test == "stripe" and not key.startswith(("sk_test_", "rk_test_")):
            raise ValueError("test mode on Stripe needs a test key (sk_test_/rk_test_)")
        return self

    @property
    def live_provider_name(self) -> Literal["none", "stripe"]:
        if self.live_provider is not None:
            return self.live_provider
        if self.stripe_secret_key and self.test_provider != "stripe":
            return "stripe"
        return "none"

    @property
    def stripe_webhook_secrets(self) -> tuple[str, ...]:
        return tuple(_split_csv(self.stripe_webhook_secret or ""))

    @model_validator(mode="after")
    def _redis_store_needs_url(self) -> Settings:
        if self.rate_limit_store == "redis" and not self.redis_url:
            raise ValueError("rate_limit_store=redis needs redis_url")
        return self

    @property
    def rate_limit_backend(self) -> Literal["memory", "database", "redis"]:
        if self.rate_limit_store is not None:
            return self.rate_limit_store
        return "redis" if self.redis_url else "memory"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def event_bus_kind(self) -> Literal["memory", "postgres"]:
        if self.event_bus is not None:
            return self.event_bus
        return "memory" if self.is_sqlite else "postgres"

    def webhook_policy(self) -> WebhookPolicy:
        return WebhookPolicy(
            allow_private_urls=self.webhook_allow_private_urls,
            retry_schedule=tuple(self.webhook_retry_schedule),
            rotation_overlap_seconds=self.webhook_rotation_overlap_seconds,
            timeout_seconds=self.webhook_timeout_seconds,
            lease_seconds=self.webhook_lease_seconds,
            concurrency=self.webhook_concurrency,
            endpoint_concurrency=self.webhook_endpoint_concurrency,
            poll_interval_seconds=self.webhook_poll_interval_seconds,
        )

    @property
    def webhook_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def _split_csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
