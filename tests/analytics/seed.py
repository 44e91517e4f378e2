"""A seeded month of conversations (November 2026, Asia/Shanghai): the spec, the rows it is
written as (Rasa event-broker JSON, tickets, handoff messages, ratings, follow-ups), and the
true figures computed from the spec alone — never through bot.analytics."""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, MetaData, Table, insert, select

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIRST = datetime(2026, 11, 1, tzinfo=SHANGHAI)
END = datetime(2026, 12, 1, tzinfo=SHANGHAI)
REFUSAL = (
    "抱歉，这个请求我不能帮忙。我只依据区里公开的办事指南解答政策、帮您本人查询办件进度；"
    "弄虚作假、获取他人信息或改变我的工作规则的请求，我都不能协助。"
    "如果您有正当的办事需要，请直接告诉我想办什么事。"
)
DEPARTMENTS = {
    "residence-permit": "区公安分局户政科",
    "social-security-card": "区人力资源和社会保障局",
    "medical-offsite-filing": "区医疗保障局",
    "minimum-living-allowance": "区民政局",
}


def at(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=SHANGHAI)


@dataclass
class Turn:
    when: datetime
    # answer / clarify / abstain / refuse / unavailable (a policy question) or chat (anything else)
    kind: str
    latency: float  # seconds until the bot's reply
    service: str | None = None
    streak: int = 1  # a clarification's streak value


@dataclass
class Conv:
    id: str
    channel: str
    turns: list[Turn]
    elderly: bool = False
    voice: bool = False


@dataclass
class TicketSpec:
    conversation: str
    channel: str
    reason: str
    created: datetime
    service: str | None = None
    claimed: datetime | None = None
    claimed_by: str | None = None
    closed: datetime | None = None
    closed_by: str | None = None
    callback_phone: str | None = None
    callback_due: datetime | None = None
    # (when, sender 'citizen'/'staff', staff username, history)
    messages: list[tuple[datetime, str, str | None, bool]] = field(default_factory=list)


@dataclass
class RatingSpec:
    conversation: str
    channel: str
    level: int
    created: datetime
    service: str | None = None
    elderly: bool = False
    voice: bool = False
    ticket_of: int | None = None  # index into TICKETS
    # follow-up: (status, deadline, rectified_at, visited_by, rectified_by)
    followup: tuple[str, datetime, datetime | None, str | None, str | None] | None = None


CONVERSATIONS = [
    # Crosses the start of the period: only its November turns count (00:05 local is
    # 16:05 UTC the day before: the time zone decides the day and the hour).
    Conv(
        "web-edge",
        "web",
        [
            Turn(at(10, 31, 23, 50), "answer", 1.0, "residence-permit"),
            Turn(at(11, 1, 0, 5), "answer", 1.5, "residence-permit"),
            Turn(at(11, 1, 0, 6), "chat", 0.5),
        ],
        elderly=True,
    ),
    Conv(
        "web-clarify",
        "web",
        [
            Turn(at(11, 3, 9, 0), "clarify", 2.0, streak=1),
            Turn(at(11, 3, 9, 1), "clarify", 2.5, streak=2),
            Turn(at(11, 3, 9, 2), "answer", 1.2, "social-security-card"),
        ],
    ),
    Conv(
        "api-abstain",
        "api",
        [Turn(at(11, 5, 14, 30), "abstain", 3.0), Turn(at(11, 5, 14, 31), "chat", 0.4)],
    ),
    Conv(
        "web-handoff",
        "web",
        [Turn(at(11, 10, 10, 0), "answer", 0.8, "medical-offsite-filing")],
        voice=True,
    ),
    Conv(
        "wechat-refuse",
        "wechat",
        [Turn(at(11, 12, 20, 0), "refuse", 0.9), Turn(at(11, 12, 20, 1), "unavailable", 0.3)],
    ),
    Conv(
        "web-callback",
        "web",
        [Turn(at(11, 20, 18, 0), "answer", 1.1, "minimum-living-allowance")],
        elderly=True,
        voice=True,
    ),
    Conv("api-late", "api", [Turn(at(11, 30, 23, 59), "answer", 2.2, "residence-permit")]),
    # Entirely after the period.
    Conv("web-december", "web", [Turn(at(12, 1, 0, 0), "answer", 1.0, "residence-permit")]),
]

TICKETS = [
    TicketSpec(
        "web-handoff",
        "web",
        "request_human",
        at(11, 10, 10, 1),
        service="medical-offsite-filing",
        claimed=at(11, 10, 10, 3),
        claimed_by="alice",
        closed=at(11, 10, 10, 13),
        closed_by="alice",
        messages=[
            (at(11, 10, 10, 0), "citizen", None, True),  # copied history: not counted
            (at(11, 10, 10, 4), "citizen", None, False),
            (at(11, 10, 10, 5), "staff", "alice", False),
            (at(11, 10, 10, 6), "staff", "alice", False),
        ],
    ),
    TicketSpec(
        "api-abstain",
        "api",
        "retrieval_abstain",
        at(11, 5, 14, 32),
        claimed=at(11, 5, 14, 40),
        claimed_by="bob",
        messages=[(at(11, 5, 14, 41), "staff", "bob", False)],
    ),
    TicketSpec(
        "web-callback",
        "web",
        "request_human",
        at(11, 20, 18, 1),
        service="minimum-living-allowance",
        closed=at(11, 21, 9, 0),
        closed_by="alice",
        callback_phone="138****0000",
        callback_due=at(11, 21, 12, 0),
    ),
    # Before the period: not counted.
    TicketSpec("web-edge", "web", "request_human", at(10, 31, 23, 55)),
]

RATINGS = [
    RatingSpec("web-edge", "web", 5, at(11, 1, 0, 8), "residence-permit", elderly=True),
    RatingSpec(
        "web-handoff",
        "web",
        2,
        at(11, 10, 10, 14),
        "medical-offsite-filing",
        voice=True,
        ticket_of=0,
        followup=("rectified", at(11, 13, 10), at(11, 12, 9), "alice", "alice"),
    ),
    RatingSpec(
        "api-abstain",
        "api",
        1,
        at(11, 5, 15, 0),
        followup=("rectified", at(11, 8, 15), at(11, 9, 9), "bob", "bob"),
    ),
    RatingSpec(
        "wechat-refuse",
        "wechat",
        2,
        at(11, 12, 20, 5),
        followup=("open", at(11, 15, 20), None, None, None),
    ),
    RatingSpec(
        "web-callback",
        "web",
        1,
        at(11, 21, 9, 5),
        "minimum-living-allowance",
        elderly=True,
        voice=True,
        ticket_of=2,
        followup=("visited", datetime(2099, 1, 1, tzinfo=UTC), None, "alice", None),
    ),
    RatingSpec("web-clarify", "web", 4, at(11, 3, 9, 5), "social-security-card"),
    RatingSpec("api-late", "api", 3, at(11, 30, 23, 59, 30), "residence-permit"),
    # After the period: not counted.
    RatingSpec("web-december", "web", 1, at(12, 1, 0, 1), "residence-permit"),
]


# Conversations the ratings noted as 长辈模式 / voice while they went on (rating_prompts):
# (conversation, channel, elderly, voice, last update).
MODES = [
    ("api-late", "api", False, True, at(11, 30, 23, 59, 40)),
    ("web-december", "web", True, False, at(12, 1, 0, 1)),
]


# ---- writing the rows -----------------------------------------------------------------------


def _events_of(conversation: Conv) -> list[dict]:
    rows: list[dict] = []
    for turn in conversation.turns:
        t = turn.when.timestamp()
        metadata = {"channel": conversation.channel, "client": "ip:203.0.113.9"}
        if conversation.elderly:
            metadata["elderly_mode"] = True
        if conversation.voice:
            metadata["voice"] = True
        rows.append(
            {
                "event": "user",
                "timestamp": t,
                "text": "问题",
                "parse_data": {"intent": {"name": "ask_policy"}},
                "metadata": metadata,
                "input_channel": "rest",
            }
        )
        policy = turn.kind != "chat"
        rows.append(
            {
                "event": "action",
                "timestamp": t + 0.05,
                "name": "action_answer_policy" if policy else "utter_chitchat",
            }
        )
        text = {"refuse": REFUSAL, "unavailable": "知识库暂时不可用"}.get(turn.kind, "回答")
        rows.append({"event": "bot", "timestamp": t + turn.latency, "text": text, "metadata": {}})
        slots: list[tuple[str, object]] = []
        if turn.kind == "answer":
            slots = [("policy_clarify_streak", 0), ("handoff_offered", False)]
            if turn.service:
                slots.append(("service_id", turn.service))
        elif turn.kind == "clarify":
            slots = [("policy_clarify_streak", turn.streak), ("handoff_offered", False)]
        elif turn.kind == "abstain":
            slots = [
                ("policy_clarify_streak", 0),
                ("handoff_reason", "retrieval_abstain"),
                ("handoff_offered", True),
            ]
        elif turn.kind == "refuse":
            slots = [("policy_clarify_streak", 0), ("handoff_offered", False)]
        for name, value in slots:
            rows.append(
                {"event": "slot", "timestamp": t + turn.latency, "name": name, "value": value}
            )
        rows.append({"event": "action", "timestamp": t + turn.latency, "name": "action_listen"})
    return rows


def write_events(engine: Engine, events: Table) -> None:
    """The Rasa event-broker rows, in time order as the broker appends them, plus one broken
    row that must be skipped."""
    all_events = [(c.id, e) for c in CONVERSATIONS for e in _events_of(c)]
    all_events.sort(key=lambda item: item[1]["timestamp"])
    with engine.begin() as connection:
        connection.execute(insert(events), [{"sender_id": "x", "data": "{not json"}])
        connection.execute(
            insert(events),
            [{"sender_id": sender, "data": json.dumps(data)} for sender, data in all_events],
        )


def write(engine: Engine, schema: MetaData, with_events: bool = True) -> None:
    events, tickets = schema.tables["events"], schema.tables["handoff_tickets"]
    messages, staff = schema.tables["handoff_messages"], schema.tables["staff_users"]
    ratings, followups = schema.tables["ratings"], schema.tables["followups"]
    prompts = schema.tables["rating_prompts"]
    if with_events:
        write_events(engine, events)
    with engine.begin() as connection:
        # alice and bob exist (the test adds them as real accounts).
        ids = dict(connection.execute(select(staff.c.username, staff.c.id)).all())
        ticket_ids = []
        for spec in TICKETS:
            closed = spec.closed is not None
            state = "closed" if closed else "callback" if spec.callback_phone else "claimed"
            ticket_ids.append(
                connection.execute(
                    insert(tickets).values(
                        conversation_id=spec.conversation,
                        channel=spec.channel,
                        state=state,
                        reason=spec.reason,
                        service_id=spec.service,
                        department=DEPARTMENTS.get(spec.service or ""),
                        summary="",
                        agitated=False,
                        created_at=_utc(spec.created),
                        queued_at=_utc(spec.created),
                        updated_at=_utc(spec.closed or spec.created),
                        claimed_at=_utc(spec.claimed),
                        claimed_by=ids.get(spec.claimed_by or ""),
                        closed_at=_utc(spec.closed),
                        closed_by=ids.get(spec.closed_by or ""),
                        callback_phone=spec.callback_phone,
                        callback_due_at=_utc(spec.callback_due),
                        resumed_at=_utc(spec.closed),
                        rating_state="none",
                    )
                ).inserted_primary_key[0]
            )
            for when, sender, by, history in spec.messages:
                connection.execute(
                    insert(messages).values(
                        ticket_id=ticket_ids[-1],
                        at=_utc(when),
                        sender=sender,
                        staff_id=ids.get(by or ""),
                        text="……",
                        history=history,
                    )
                )
        for conversation, channel, elderly, voice, updated in MODES:
            connection.execute(
                insert(prompts).values(
                    conversation_id=conversation,
                    channel=channel,
                    state="armed",
                    elderly_mode=elderly,
                    voice=voice,
                    updated_at=_utc(updated),
                )
            )
        for spec in RATINGS:
            rating_id = connection.execute(
                insert(ratings).values(
                    conversation_id=spec.conversation,
                    channel=spec.channel,
                    ticket_id=None if spec.ticket_of is None else ticket_ids[spec.ticket_of],
                    level=spec.level,
                    service_id=spec.service,
                    department=DEPARTMENTS.get(spec.service or ""),
                    elderly_mode=spec.elderly,
                    voice=spec.voice,
                    created_at=_utc(spec.created),
                )
            ).inserted_primary_key[0]
            if spec.followup:
                status, deadline, rectified, visited_by, rectified_by = spec.followup
                visited = spec.created + timedelta(hours=1) if visited_by else None
                connection.execute(
                    insert(followups).values(
                        rating_id=rating_id,
                        status=status,
                        deadline_at=_utc(deadline),
                        visited_at=_utc(visited),
                        visited_by=visited_by,
                        rectified_at=_utc(rectified),
                        rectified_by=rectified_by,
                        created_at=_utc(spec.created),
                    )
                )


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


# ---- the true figures, from the spec --------------------------------------------------------


def _in(moment: datetime) -> bool:
    return FIRST <= moment < END


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def expected() -> dict:
    turns = {c.id: [t for t in c.turns if _in(t.when)] for c in CONVERSATIONS}
    tickets = [t for t in TICKETS if _in(t.created)]
    live = [(m, t) for t in TICKETS for m in t.messages if _in(m[0]) and not m[3]]
    conversations = {cid for cid, ts in turns.items() if ts} | {t.conversation for t in tickets}
    citizen = sum(len(ts) for ts in turns.values()) + sum(1 for m, _ in live if m[1] == "citizen")
    bot = sum(len(ts) for ts in turns.values())
    staff = sum(1 for m, _ in live if m[1] == "staff")
    first_replies = [ts[0].latency for ts in turns.values() if ts]
    decisions = Counter(t.kind for ts in turns.values() for t in ts if t.kind != "chat")
    policy_total = sum(decisions.values())
    handed = {t.conversation for t in tickets}
    answered = {cid for cid, ts in turns.items() if any(t.kind == "answer" for t in ts)}
    waits = [(t.claimed - t.created).total_seconds() for t in tickets if t.claimed]
    handling = [(t.closed - t.claimed).total_seconds() for t in tickets if t.claimed and t.closed]
    first_day = Counter()
    first_hour = Counter()
    for cid in conversations:
        seen = [t.when for t in turns.get(cid, [])]
        seen += [t.created for t in tickets if t.conversation == cid]
        first = min(seen).astimezone(SHANGHAI)
        first_day[first.date().isoformat()] += 1
        first_hour[f"{first.hour:02d}"] += 1
    ratings = [r for r in RATINGS if _in(r.created)]
    levels = Counter(str(r.level) for r in ratings)
    followups = [r.followup for r in ratings if r.followup]
    now = datetime.now(UTC)
    on_time = sum(1 for f in followups if f[0] == "rectified" and f[2] <= f[1])
    overdue = sum(
        1
        for f in followups
        if (f[0] == "rectified" and f[2] > f[1]) or (f[0] != "rectified" and f[1] < now)
    )
    services = Counter()
    for cid in conversations:
        asked = {t.service for t in turns.get(cid, []) if t.service}
        asked |= {t.service for t in tickets if t.conversation == cid and t.service}
        services.update(asked)
    elderly = {c.id for c in CONVERSATIONS if c.id in conversations and c.elderly}
    elderly |= {r.conversation for r in ratings if r.elderly and r.conversation in conversations}
    voice = {c.id for c in CONVERSATIONS if c.id in conversations and c.voice}
    voice |= {r.conversation for r in ratings if r.voice and r.conversation in conversations}
    noted = [m for m in MODES if m[4] >= FIRST and m[0] in conversations]
    elderly |= {m[0] for m in noted if m[2]}
    voice |= {m[0] for m in noted if m[3]}
    return {
        "conversations": len(conversations),
        "citizen": citizen,
        "bot": bot,
        "staff": staff,
        "first_reply_median": statistics.median(first_replies),
        "first_reply_p90": _p90(first_replies),
        "first_reply_count": len(first_replies),
        "queue_wait_mean": statistics.fmean(waits),
        "handling_median": statistics.median(handling),
        "first_day": first_day,
        "first_hour": first_hour,
        "decisions": decisions,
        "policy_total": policy_total,
        "handoff_conversations": len(handed),
        "tickets": len(tickets),
        "tickets_closed": sum(1 for t in tickets if t.closed),
        "containment": len(conversations - handed),
        "self_service": len(answered - handed),
        "callbacks": sum(1 for t in tickets if t.callback_phone),
        "ratings_total": len(ratings),
        "levels": levels,
        "bad": sum(1 for r in ratings if r.level <= 2),
        "web_ratings": sum(1 for r in ratings if r.channel == "web"),
        "elderly_ratings": sum(1 for r in ratings if r.elderly),
        "followups": len(followups),
        "followups_open": sum(1 for f in followups if f[0] == "open"),
        "followups_visited": sum(1 for f in followups if f[0] == "visited"),
        "followups_rectified": sum(1 for f in followups if f[0] == "rectified"),
        "on_time": on_time,
        "overdue": overdue,
        "services": services,
        "elderly": len(elderly),
        "voice": len(voice),
        "channels": Counter(c.channel for c in CONVERSATIONS if c.id in conversations),
    }
