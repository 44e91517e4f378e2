"""The 回访 → 整改 life cycle of a 差评's follow-up: staff record the visit, then the
rectification, each with a note. On time = rectified no later than the deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.ratings.models import OPEN, RECTIFIED, VISITED, Followup, Rating
from bot.store import utcnow

NOTE_MAX_CHARS = 2000
# Which follow-ups a list shows.
STATUS_FILTERS: dict[str, tuple[str, ...]] = {
    "open": (OPEN, VISITED),
    OPEN: (OPEN,),
    VISITED: (VISITED,),
    RECTIFIED: (RECTIFIED,),
    "all": (OPEN, VISITED, RECTIFIED),
}


class FollowupNotFound(LookupError):
    pass


class FollowupConflict(RuntimeError):
    """The follow-up is not in the state the step needs (e.g. 整改 before 回访)."""


@dataclass(frozen=True)
class FollowupView:
    followup: Followup
    rating: Rating

    def overdue(self, now: datetime) -> bool:
        """Past its deadline and not rectified, or rectified late."""
        done = self.followup.rectified_at
        return (done or now) > self.followup.deadline_at

    def on_time(self) -> bool | None:
        done = self.followup.rectified_at
        return None if done is None else done <= self.followup.deadline_at


def list_followups(
    session: Session, statuses: tuple[str, ...], limit: int = 200
) -> list[FollowupView]:
    rows = session.execute(
        select(Followup, Rating)
        .join(Rating, Rating.id == Followup.rating_id)
        .where(Followup.status.in_(statuses))
        .order_by(Followup.deadline_at, Followup.id)
        .limit(limit)
    ).all()
    return [FollowupView(f, r) for f, r in rows]


def get_followup(session: Session, followup_id: int) -> FollowupView:
    row = session.execute(
        select(Followup, Rating)
        .join(Rating, Rating.id == Followup.rating_id)
        .where(Followup.id == followup_id)
    ).first()
    if row is None:
        raise FollowupNotFound(followup_id)
    return FollowupView(row[0], row[1])


def _advance(
    session: Session, followup_id: int, from_status: str, values: dict[str, object]
) -> FollowupView:
    changed = session.execute(
        update(Followup)
        .where(Followup.id == followup_id, Followup.status == from_status)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        get_followup(session, followup_id)  # raises FollowupNotFound when it does not exist
        raise FollowupConflict(followup_id)
    session.expire_all()
    return get_followup(session, followup_id)


def record_visit(
    session: Session, followup_id: int, staff: str, note: str, now: datetime | None = None
) -> FollowupView:
    """回访 done: open → visited."""
    return _advance(
        session,
        followup_id,
        OPEN,
        {
            "status": VISITED,
            "visited_at": now or utcnow(),
            "visited_by": staff[:64],
            "visit_note": note[:NOTE_MAX_CHARS],
        },
    )


def record_rectification(
    session: Session, followup_id: int, staff: str, note: str, now: datetime | None = None
) -> FollowupView:
    """整改 done: visited → rectified (the follow-up is closed)."""
    return _advance(
        session,
        followup_id,
        VISITED,
        {
            "status": RECTIFIED,
            "rectified_at": now or utcnow(),
            "rectified_by": staff[:64],
            "rectify_note": note[:NOTE_MAX_CHARS],
        },
    )
