"""Why a conversation went to a person. Stored on the ticket; shown to staff in Chinese."""

from __future__ import annotations

REQUEST_HUMAN = "request_human"
COMPLAINT = "complain"
RETRIEVAL_ABSTAIN = "retrieval_abstain"
CLARIFY_REJECTED = "clarify_rejected"
STATUS_CHECK_FAILED = "status_check_failed"

LABELS = {
    REQUEST_HUMAN: "群众要求转人工",
    COMPLAINT: "投诉或不满",
    RETRIEVAL_ABSTAIN: "知识库没有可靠答案",
    CLARIFY_REJECTED: "两次追问都没对上群众的问题",
    STATUS_CHECK_FAILED: "办件查询身份核验多次未通过",
}
REASONS = frozenset(LABELS)


def label(reason: str) -> str:
    return LABELS.get(reason, reason)


def validated(reason: str) -> str:
    if reason not in REASONS:
        raise ValueError(f"unknown handoff reason {reason!r}; one of {sorted(REASONS)}")
    return reason
