"""One settings object for every process, fed by environment variables (prefix ``ZHIXUN_``)
and the git-ignored ``.env`` file that ``make run`` writes on first start."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ZHIXUN_",
        env_file=PROJECT_ROOT / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: str = Field("development", description="'development' or 'production'")
    host: str = "127.0.0.1"
    web_port: int = 8000
    rasa_port: int = 5005
    action_port: int = 5055
    rasa_url: str = ""
    rasa_token: str = ""
    secret_key: str = ""

    # Service-to-service secrets (issue 8), generated into .env by ``make run`` and handed to the
    # other processes through their environment, never their command line.
    # Rasa → action server: sent as a header on every action call; the action server refuses
    # (401) any call without it and will not start when it is empty.
    action_server_token: str = ""
    # Web app → Rasa's REST channel: vouches for the caller identity (``metadata.client``) the
    # gateway forwards; a direct caller's is replaced by its address.
    gateway_token: str = ""
    # Largest request body Rasa reads (bytes actually received, chunked bodies included).
    rasa_max_body_bytes: int = 64 * 1024

    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'zhixun.db'}"
    # Conversations, trackers and events older than this are anonymized by
    # ``python -m bot.privacy purge`` (docs/privacy.md).
    retention_days: int = 180
    catalog_path: Path = PROJECT_ROOT / "catalog" / "services.yaml"
    knowledge_dir: Path = PROJECT_ROOT / "knowledge"
    index_dir: Path = PROJECT_ROOT / "var" / "index"
    jieba_dict_dir: Path = PROJECT_ROOT / "var" / "jieba"
    embedding_model_dir: Path = PROJECT_ROOT / "var" / "models" / "multilingual-e5-small"
    rasa_model_dir: Path = PROJECT_ROOT / "models"
    rasa_tracker_db: Path = PROJECT_ROOT / "var" / "rasa_tracker.db"
    # The tracker store's database when it is not that SQLite file (`make cluster`: PostgreSQL),
    # as a SQLAlchemy URL; `python -m bot.privacy purge` anonymizes it too.
    rasa_tracker_url: str = ""
    run_dir: Path = PROJECT_ROOT / "var" / "run"
    demo_applications_csv: Path = PROJECT_ROOT / "bot" / "status" / "demo_applications.csv"

    # How long a channel waits for the bot's turn. WeChat's 5-second rule is kept by the WeChat
    # channel itself (``wechat_reply_budget_seconds``): a slower turn is delivered later.
    rasa_timeout_seconds: float = 30.0
    max_message_chars: int = 2000

    # Status-check budgets (issue 8): failed checks allowed per sliding window, in the `limits`
    # library's notation ("5/hour;10/day": both hold). A wrong phone and an unknown number count
    # alike; refused checks count nothing. The short proof (last 4 digits of the phone) is
    # counted per conversation, per caller (``metadata.client``), per caller and number, per
    # number from anyone, and for everyone; the full phone number (the owner's way through when
    # the short proof of their number is spent) per caller and for everyone. docs/security.md
    # has the arithmetic. Replaces status_max_failures_per_* / status_*_seconds (issue 4).
    status_failures_per_conversation: str = "3/hour"
    status_failures_per_caller_and_number: str = "3/hour;5/day"
    status_failures_per_caller: str = "10/hour;30/day"
    status_failures_per_number: str = "5/hour;10/day;30/month"
    status_failures_everyone: str = "60/hour;300/day"
    status_full_phone_failures_per_caller: str = "5/hour;20/day"
    status_full_phone_failures_everyone: str = "100/hour;1000/day"
    # Where the budgets are counted: empty keeps them in the action server's memory (one
    # process); "redis://127.0.0.1:6379/0" shares them between every action server using it.
    # In the web app it switches on running as N instances (issue 12): socket.io messages,
    # staff live updates and the handoff's resume lock go through Redis.
    redis_url: str = ""
    # Start of every Redis key and pub/sub channel the web app uses (pub/sub ignores the db
    # number, so two deployments sharing one Redis need different prefixes).
    redis_prefix: str = "zhixun"

    # Human handoff (issue 5).
    working_hours: str = "mon-fri 09:00-12:00,13:30-17:30; sat 09:00-12:00"
    holidays: str = ""
    timezone: str = "Asia/Shanghai"
    handoff_claim_timeout_seconds: int = 300
    # 调休: weekend dates worked with Monday's hours ("2026-10-10, 2026-09-27").
    makeup_workdays: str = ""
    # Expected wait per ticket ahead in the queue until there is claim history to go by.
    handoff_minutes_per_ticket: float = 3.0
    # How long after a close a typed 1–5 still counts as the satisfaction rating.
    handoff_rating_window_seconds: int = 1800
    # 好差评 (issue 11). A bot-only conversation is asked for a rating once: when the bot says
    # goodbye, or this long after the last turn that followed a cited policy answer.
    rating_idle_seconds: float = 120.0
    # How long after the question a typed 1–5 still counts, and after 差评 the comment.
    rating_comment_window_seconds: int = 600
    rating_sweep_seconds: float = 5.0
    # A 差评 opens a follow-up (回访 → 整改) due this many hours later.
    followup_deadline_hours: float = 72.0
    # Where analytics read Rasa's event-broker table ``events``; empty: the app database
    # (endpoints.yml's broker). Set it when the broker writes elsewhere (make cluster).
    analytics_events_url: str = ""
    # Where the bot's goodbye texts are read from (the rating question follows them).
    rasa_domain_path: Path = PROJECT_ROOT / "domain.yml"
    # The web app's background check (claim timeouts, resumes that failed).
    handoff_sweep_seconds: float = 5.0
    # How often the staff console's live feed reads the store for changes nobody announced
    # (tickets the action server opens; other instances announce theirs via Redis).
    handoff_feed_poll_seconds: float = 1.0
    handoff_canned_replies_path: Path = PROJECT_ROOT / "bot" / "handoff" / "canned_replies.yml"
    staff_max_failed_logins: int = 5
    staff_lockout_seconds: int = 900
    staff_session_hours: int = 12

    # Staff accounts (issue 8). The console cookie's Secure flag: unset = on, except for
    # plain-HTTP requests to a loopback host (http://127.0.0.1:8000 in development).
    staff_cookie_secure: bool | None = None

    # Voice (issue 10): offline speech recognition (faster-whisper) and read-aloud.
    voice_model_dir: Path = PROJECT_ROOT / "var" / "models" / "whisper-base"
    voice_max_bytes: int = 2 * 1024 * 1024
    voice_max_seconds: float = 60.0
    # Transcriptions running at once (CTranslate2 uses voice_cpu_threads each) and waiting.
    voice_workers: int = 1
    voice_cpu_threads: int = 2
    voice_max_waiting: int = 4
    voice_min_confidence: float = 0.45
    voice_tts_dir: Path = PROJECT_ROOT / "var" / "tts"

    # WeChat Official Account (issue 9); the channel is off (404) until token, AppID and
    # AppSecret are set. The EncodingAESKey enables safe mode (encrypt_type=aes).
    wechat_token: str = ""
    wechat_app_id: str = ""
    wechat_app_secret: str = ""
    wechat_aes_key: str = ""
    # The account's original ID (gh_…): when set, messages addressed elsewhere are refused.
    wechat_account_id: str = ""
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_path: str = "/wechat"
    # Reply passively when the bot answers within this; later replies go as 客服消息.
    wechat_reply_budget_seconds: float = 4.5
    wechat_max_body_bytes: int = 64 * 1024
    wechat_max_voice_bytes: int = 2 * 1024 * 1024
    # Requests whose timestamp is further than this from our clock are refused (replays).
    wechat_max_clock_skew_seconds: int = 300
    # WeChat lets an account send 客服消息 only this long after the citizen's last message.
    wechat_service_window_hours: float = 48.0

    # Integration keys and widget ids (issue 8). The demo key (``make run`` writes it to .env
    # outside production) is registered when the web app starts; in production it is refused.
    demo_api_key: str = ""
    # A widget's signed conversation token is renewed on every visit; unused this long, it
    # expires and the next visit starts a new conversation.
    widget_session_max_age_days: int = 30

    # Web app hardening (issue 8).
    # Browser origins allowed to open the chat socket, comma-separated (e.g. the district
    # portal "https://www.example.gov.cn"). Empty: the web app's own loopback portal only.
    allowed_origins: str = ""
    # Request bodies, counted as they are read (Content-Length or chunked): 413 beyond this.
    # /api/asr allows voice_max_bytes, the WeChat path wechat_max_body_bytes.
    max_body_bytes: int = 64 * 1024

    # The unanswered-question loop (issue 11). Questions join the nearest open review group
    # when their similarity (mean of the e5 and USE cosines, bot/review/grouping.py) is at
    # least this; the action server looks for a rebuilt index at most this often (seconds;
    # negative: never).
    review_group_similarity: float = 0.78
    index_reload_check_seconds: float = 2.0

    # Scale-out (issue 12, ``make cluster``): cluster_instances of each service on loopback ports
    # from cluster_backend_port_base, behind HAProxy on host:web_port and host:rasa_port (and,
    # loopback only, the Rasa HTTP API on cluster_rasa_api_port and the action servers on
    # action_port). PostgreSQL holds the store, Rasa's trackers and its event log (databases
    # named from cluster_database_prefix, created and migrated on first start); Redis holds
    # Rasa's conversation locks and the services' shared state. Files go to cluster_dir.
    cluster_instances: int = 2
    cluster_postgres_url: str = "postgresql://postgres@127.0.0.1:5432"
    cluster_database_prefix: str = "zhixun"
    cluster_redis_url: str = "redis://127.0.0.1:6379/0"
    cluster_backend_port_base: int = 18000
    cluster_rasa_api_port: int = 5006
    cluster_dir: Path = PROJECT_ROOT / "var" / "cluster"
    # A loopback client may pick the Rasa instance with the X-Zhixun-Instance header (tests).
    cluster_instance_pinning: bool = False

    @property
    def socket_allowed_origins(self) -> list[str]:
        configured = [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]
        if configured:
            return configured
        hosts = ["127.0.0.1", "localhost"]
        if self.host not in (*hosts, "0.0.0.0", "::"):
            hosts.append(self.host)
        return [f"http://{f'[{h}]' if ':' in h else h}:{self.web_port}" for h in hosts]

    @property
    def wechat_enabled(self) -> bool:
        return bool(self.wechat_token and self.wechat_app_id and self.wechat_app_secret)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def rasa_base_url(self) -> str:
        return self.rasa_url or f"http://{self.host}:{self.rasa_port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
