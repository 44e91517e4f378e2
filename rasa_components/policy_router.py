"""Routing that does not lose policy questions (a custom NLU component after the classifiers).

DIET learns intents from short examples; real questions are often long stories ("我家里老人
八十多了，身体也不好……有没有什么补贴"), and a story that opens with 你好 or ends with 谢谢, or
that mentions a boss or a hard life, is easily taken for a greeting, thanks, a complaint or a
request for a person. Every such turn is lost to the knowledge base, whose calibrated decision
(answer / clarify / abstain) is what protects citizens from wrong answers.

So an intent other than ``ask_policy`` keeps a message only when the message really is that
act; otherwise it goes to ``ask_policy``:

- greet / thank / goodbye / bot_challenge: only short messages that name no service;
- affirm / deny: unless they come with a question about a named service;
- request_human: with an explicit ask for a person (人工, 客服, 工作人员 …), or short and
  naming no service;
- complain: unless it names a service and complains about no one (欠薪 is a service);
- check_application_status: only with a status cue (进度, 办到哪, an application number …);
- inform: only when it carries a number;
- out_of_scope: only when confident and naming no service;
- anything the assistant must refuse (cheating, forgery, other people's data, prompt
  injection) goes to the policy action, which refuses it.

Why each decision was taken is recorded in the message's ``routing`` property (visible in
``/model/parse`` and the tracker).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.knowledge.query_vectors import MESSAGE_KEY
from bot.knowledge.safety import refusal_reason
from rasa_components import action_response_validation

POLICY = "ask_policy"
# Intents whose turn goes to the knowledge base (rules in data/rules.yml).
TO_KNOWLEDGE_BASE = frozenset({POLICY, "nlu_fallback"})
SOCIAL = frozenset({"greet", "thank", "goodbye", "bot_challenge"})
CONFIRM = frozenset({"affirm", "deny"})

HUMAN_CUES = re.compile(
    r"人工|客服|工作人员|办事员|负责的人|负责人|真人|活人|专人|坐席|接线员|转接|找人|找个人|"
    r"来个人|有人吗|人来|跟人|和人|不跟机器|不要机器|不和机器|打电话给我|给我回电|回个电话|"
    r"联系我|找领导|找你们领导"
)
STAFF_COMPLAINT_CUES = re.compile(
    r"态度|工作人员|办事员|窗口的|窗口人员|推诿|刁难|踢皮球|不作为|敷衍|骂人|吼|甩脸|机器人|你们|"
    r"智能助手|没用|太慢|效率"
)
STATUS_CUES = re.compile(
    r"进度|进展|办到哪|到哪一步|到哪了|到哪儿了|什么状态|啥状态|审核到|审批到|审核过|审过了|批下来没|"
    r"批了没|批了吗|批没批|能批|通过了没|通过没|办好了没|办好没|办完没|好了没|弄好没|下来没|怎么样了|"
    r"有结果|结果出来|出结果|还没消息|有消息没|没动静|受理了没|查一下我的|查查我的|查询我的|"
    r"我的申请|我的办件|办件|申请编号|受理编号|回执|yx\d|"
    r"我(?:在网上|在手机上|上个月|上周|前几天|之前|已经)?(?:递交|提交|申请|交|报)(?:上去)?的",
    re.IGNORECASE,
)
DIGITS = re.compile(r"\d")


def content_length(text: str) -> int:
    """Letters and digits only: punctuation, spaces and emoji do not make a message long."""
    return sum(1 for ch in text if unicodedata.category(ch)[0] in "LN")


def read_service_terms(dictionary_path: Path) -> frozenset[str]:
    """Words that name a service (tag ``nz``) in the generated jieba dictionary directory."""
    files = sorted(dictionary_path.glob("*.txt")) if dictionary_path.is_dir() else []
    terms: set[str] = set()
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[2] == "nz":
                terms.add(parts[0])
    return frozenset(terms)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class PolicyRouter(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "dictionary_path": "var/jieba",
            # A greeting or thanks longer than this (letters and digits) carries a question.
            "social_max_chars": 24,
            # An inform (a number or tail) longer than this without a number is a question.
            "inform_max_chars": 12,
            # A request for a person without the words for one, this short and naming no
            # service ("帮帮我吧"), is still taken as one.
            "plea_max_chars": 20,
            # Below this confidence an out_of_scope guess goes to the knowledge base, which
            # abstains on what it cannot answer.
            "out_of_scope_min_confidence": 0.6,
        }

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> PolicyRouter:
        # The turns routed here are answered by a custom action: make Rasa's check of the action
        # server's reply cheap in the process that loads this model (the module says why).
        action_response_validation.install()
        return cls(config)

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = {**self.get_default_config(), **config}
        self._service_terms = read_service_terms(Path(self._config["dictionary_path"]))

    def names_service(self, text: str) -> bool:
        return any(term in text for term in self._service_terms)

    def route(self, text: str, intent: str, confidence: float, has_entities: bool) -> str | None:
        """Why the message goes to ``ask_policy`` instead of ``intent``, or None to keep it."""
        if intent == POLICY or intent == "nlu_fallback":
            return None
        if refusal_reason(text) is not None:
            return "must be refused"
        length = content_length(text)
        service = self.names_service(text)
        if intent in SOCIAL:
            if service:
                return "names a service"
            if length > self._config["social_max_chars"]:
                return "too long for a social act"
        elif intent in CONFIRM:
            if service and length > 8:
                return "a question about a service"
        elif intent == "request_human":
            # A short plea naming no service is left to a person; a story is a question.
            if not HUMAN_CUES.search(text) and (service or length > self._config["plea_max_chars"]):
                return "asks for no person"
        elif intent == "complain":
            if service and not STAFF_COMPLAINT_CUES.search(text):
                return "names a service, complains about no one"
        elif intent == "check_application_status":
            if not has_entities and not STATUS_CUES.search(text):
                return "no status cue"
        elif intent == "inform":
            if (
                not has_entities
                and not DIGITS.search(text)
                and length > self._config["inform_max_chars"]
            ):
                return "carries no number"
        elif intent == "out_of_scope":
            if service:
                return "names a service"
            if confidence < self._config["out_of_scope_min_confidence"]:
                return "not confidently out of scope"
        return None

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._route_message(message)
        return messages

    def _route_message(self, message: Message) -> None:
        self._reroute(message)
        intent = (message.get(INTENT) or {}).get("name")
        vectors = message.get(MESSAGE_KEY)
        if intent in TO_KNOWLEDGE_BASE and vectors is not None:
            # The retriever searches with the vectors NLU already computed.
            message.set(MESSAGE_KEY, vectors, add_to_output=True)

    def _reroute(self, message: Message) -> None:
        text = message.get(TEXT)
        intent = message.get(INTENT) or {}
        name = intent.get("name")
        if not text or not name:
            return
        normalised = unicodedata.normalize("NFKC", text).lower()
        confidence = float(intent.get("confidence") or 0.0)
        reason = self.route(normalised, name, confidence, bool(message.get(ENTITIES)))
        if reason is None:
            return
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != POLICY]
        policy = {"name": POLICY, "confidence": max(confidence, 1.0 - confidence)}
        message.set(INTENT, policy, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [policy, *ranking], add_to_output=True)
        message.set(
            "routing",
            {"from": name, "confidence": confidence, "reason": reason},
            add_to_output=True,
        )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
