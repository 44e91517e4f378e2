"""The review queue: groups of unanswered questions, and staff resolving them.

Resolving claims the group first (one conditional UPDATE, so two staff members cannot resolve it
twice), then edits the document; if the edit is refused the group is reopened and nothing is
left half done. Every resolution is audited with who did it.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, update

from bot.audit import audit
from bot.review import editing
from bot.review.grouping import group_pending
from bot.review.models import (
    FAQ,
    LINKED,
    OPEN,
    RESOLVED,
    UnansweredGroup,
    UnansweredQuestion,
)
from bot.store import session_scope, utcnow

MAX_QUESTIONS_SHOWN = 50
MAX_GROUPS_LISTED = 200


class GroupNotFound(LookupError):
    pass


class GroupClosed(RuntimeError):
    pass


@dataclass(frozen=True)
class Actor:
    username: str
    staff_id: int | None
    client_ip: str | None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _group_json(group: UnansweredGroup, questions: list[UnansweredQuestion]) -> dict[str, Any]:
    kinds = Counter(q.kind for q in questions)
    services = Counter(
        s for q in questions for s in [q.context_service_id, *(q.candidates or "").split(",")] if s
    )
    latest = sorted(questions, key=lambda q: q.id, reverse=True)
    return {
        "id": group.id,
        "status": group.status,
        "size": len(questions),
        "kinds": dict(kinds),
        "label": latest[-1].text if latest else "",
        "questions": [
            {"id": q.id, "text": q.text, "kind": q.kind, "at": _iso(q.created_at)}
            for q in latest[:MAX_QUESTIONS_SHOWN]
        ],
        "suggested_services": [s for s, _ in services.most_common(5)],
        "first_at": _iso(min((q.created_at for q in questions), default=None)),
        "last_at": _iso(max((q.created_at for q in questions), default=None)),
        "resolved_at": _iso(group.resolved_at),
        "resolved_by": group.resolved_by,
        "resolution": group.resolution,
        "service_id": group.service_id,
        "resolution_detail": json.loads(group.resolution_detail)
        if group.resolution_detail
        else None,
    }


def list_groups(engine: Engine, status: str = OPEN) -> list[dict[str, Any]]:
    """Groups in ``status``, the largest (then the most recent) first; groups new questions
    first."""
    if status == OPEN:
        group_pending(engine)
    with session_scope(engine) as session:
        sizes = (
            select(UnansweredQuestion.group_id, func.count().label("n"))
            .group_by(UnansweredQuestion.group_id)
            .subquery()
        )
        groups = session.scalars(
            select(UnansweredGroup)
            .join(sizes, sizes.c.group_id == UnansweredGroup.id)
            .where(UnansweredGroup.status == status)
            .order_by(sizes.c.n.desc(), UnansweredGroup.updated_at.desc())
            .limit(MAX_GROUPS_LISTED)
        ).all()
        members: dict[int, list[UnansweredQuestion]] = {g.id: [] for g in groups}
        for question in session.scalars(
            select(UnansweredQuestion).where(UnansweredQuestion.group_id.in_(list(members)))
        ):
            members[question.group_id].append(question)  # type: ignore[index]
        return [_group_json(g, members[g.id]) for g in groups]


def get_group(engine: Engine, group_id: int) -> dict[str, Any]:
    with session_scope(engine) as session:
        group = session.get(UnansweredGroup, group_id)
        if group is None:
            raise GroupNotFound(group_id)
        questions = session.scalars(
            select(UnansweredQuestion).where(UnansweredQuestion.group_id == group_id)
        ).all()
        return _group_json(group, list(questions))


def _question_texts(engine: Engine, group_id: int) -> list[str]:
    with session_scope(engine) as session:
        return list(
            session.scalars(
                select(UnansweredQuestion.text)
                .where(UnansweredQuestion.group_id == group_id)
                .order_by(UnansweredQuestion.id)
            )
        )


def _claim(engine: Engine, group_id: int, actor: Actor) -> None:
    with session_scope(engine) as session:
        if session.get(UnansweredGroup, group_id) is None:
            raise GroupNotFound(group_id)
        claimed = session.execute(
            update(UnansweredGroup)
            .where(UnansweredGroup.id == group_id, UnansweredGroup.status == OPEN)
            .values(status=RESOLVED, resolved_at=utcnow(), resolved_by=actor.username[:64])
        )
        if not claimed.rowcount:
            raise GroupClosed(group_id)


def _reopen(engine: Engine, group_id: int) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(UnansweredGroup)
            .where(UnansweredGroup.id == group_id)
            .values(status=OPEN, resolved_at=None, resolved_by=None)
        )


def _finish(
    engine: Engine,
    group_id: int,
    actor: Actor,
    resolution: str,
    service_id: str,
    added: tuple[str, ...],
) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(UnansweredGroup)
            .where(UnansweredGroup.id == group_id)
            .values(
                resolution=resolution,
                service_id=service_id,
                resolution_detail=json.dumps(list(added), ensure_ascii=False),
                updated_at=utcnow(),
            )
        )
        audit(
            session,
            "unanswered_resolve",
            actor=actor.username,
            staff_id=actor.staff_id,
            detail={
                "group_id": group_id,
                "resolution": resolution,
                "service_id": service_id,
                "added": len(added),
            },
            client_ip=actor.client_ip,
        )


def resolve_by_link(
    engine: Engine,
    knowledge_dir: Path,
    group_id: int,
    service_id: str,
    actor: Actor,
    phrasings: list[Any] | None = None,
) -> tuple[str, ...]:
    """Add the group's phrasings (default: all its questions) to the service's 常见问法 and
    close the group. Returns the phrasings that were new to the document."""
    editing.find_document(knowledge_dir, service_id)  # refuse before claiming
    _claim(engine, group_id, actor)
    try:
        lines = phrasings if phrasings is not None else _question_texts(engine, group_id)
        result = editing.add_phrasings(knowledge_dir, service_id, lines)
    except BaseException:
        _reopen(engine, group_id)
        raise
    _finish(engine, group_id, actor, LINKED, service_id, result.added)
    return result.added


def resolve_by_faq(
    engine: Engine,
    knowledge_dir: Path,
    group_id: int,
    service_id: str,
    question: Any,
    answer: Any,
    actor: Actor,
) -> tuple[str, ...]:
    """Add an FAQ entry (question and answer) to the service's 常见问题 and close the group."""
    editing.find_document(knowledge_dir, service_id)
    _claim(engine, group_id, actor)
    try:
        result = editing.add_faq(knowledge_dir, service_id, question, answer)
    except BaseException:
        _reopen(engine, group_id)
        raise
    _finish(engine, group_id, actor, FAQ, service_id, result.added)
    return result.added
