"""The model architectures ragdesk can train a LoRA adapter for and run it in llama.cpp.

:data:`TRAINABLE` is the one table of them. ``lora train`` refuses any other
architecture before it trains (and picks its LoRA target modules here), the
PEFT -> llama.cpp converter takes tensor names, Q/K row order and fused tensors
from it, and the tests check that every catalogue model's architecture is in it
and that each entry has a tiny twin that trains, converts and answers.

Tensor names come from the ``gguf`` package's ``TensorNameMap`` (the tables
llama.cpp's own converter uses), so only what that map cannot know is written
here: which Hugging Face modules a LoRA may target, fused modules llama.cpp
stores split, and whether llama.cpp's converter reorders the rows of Q and K.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
GATED_MLP = ("gate_proj", "up_proj", "down_proj")
# How a GraniteMoeHybrid config names its Mamba layers (the original name, and transformers' own).
_MAMBA_LAYER_TYPES = ("mamba", "linear_attention")


@dataclass(frozen=True)
class Architecture:
    """One llama.cpp architecture (``general.architecture``) that adapters can be trained for."""

    name: str
    hf_types: tuple[str, ...]  # transformers ``model_type`` values that convert to it
    # llama.cpp's converter reorders the rows of Q and K for the architectures whose
    # rotary embedding pairs adjacent values (LLAMA_ROPE_TYPE_NORM): llama and its heirs.
    permute_qk: bool
    lora_targets: tuple[str, ...]  # module names LoRA trains: each lands on GGUF tensors
    # transformers rebuilds exactly the model llama.cpp runs from a GGUF of this architecture
    # (its GGUF loader knows it all); otherwise training needs the original weights.
    from_gguf: bool
    # Fused Hugging Face modules whose rows llama.cpp stores as separate tensors, in
    # order, named as ``TensorNameMap`` knows them (a LoRA's B rows split the same way).
    splits: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)  # module name -> the name TensorNameMap knows

    @property
    def model_arch(self) -> Any:
        """The ``gguf.MODEL_ARCH`` member."""
        import gguf

        return next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == self.name)


TRAINABLE: dict[str, Architecture] = {a.name: a for a in (
    Architecture("llama", ("llama", "mistral"), permute_qk=True, lora_targets=ATTENTION + GATED_MLP, from_gguf=True),
    Architecture("qwen2", ("qwen2",), permute_qk=False, lora_targets=ATTENTION + GATED_MLP, from_gguf=True),
    Architecture("qwen3", ("qwen3",), permute_qk=False, lora_targets=ATTENTION + GATED_MLP, from_gguf=True),
    Architecture("gemma2", ("gemma2",), permute_qk=False, lora_targets=ATTENTION + GATED_MLP, from_gguf=True),
    Architecture("gemma3", ("gemma3", "gemma3_text"), permute_qk=False, lora_targets=ATTENTION + GATED_MLP,
                 from_gguf=True),
    # Phi-3 and Phi-4-mini keep Q, K and V in one matrix and gate and up in another,
    # in transformers and in llama.cpp alike: the LoRA targets the fused modules.
    # transformers' GGUF loader drops their partial rotary and long-RoPE factors, so the
    # model it rebuilds is not the one llama.cpp runs: training needs the original weights.
    Architecture("phi3", ("phi3",), permute_qk=False, lora_targets=("qkv_proj", "o_proj", "gate_up_proj", "down_proj"),
                 from_gguf=False),
    # transformers' GGUF loader knows neither SmolLM3 nor Granite.
    Architecture("smollm3", ("smollm3",), permute_qk=True, lora_targets=ATTENTION + GATED_MLP, from_gguf=False),
    # Granite 3 (granite) and the dense Granite 4 models (granitemoehybrid without Mamba
    # layers or experts), whose fused gate+up llama.cpp's converter splits in two.
    Architecture("granite", ("granite", "granitemoehybrid"), permute_qk=True,
                 lora_targets=ATTENTION + GATED_MLP + ("input_linear", "output_linear"), from_gguf=False,
                 splits={"shared_mlp.input_linear": ("mlp.gate_proj", "mlp.up_proj")},
                 aliases={"shared_mlp.output_linear": "mlp.down_proj"}),
)}


def supported() -> str:
    """The trainable architectures, for messages."""
    return ", ".join(sorted(TRAINABLE))


def get(name: str | None) -> Architecture | None:
    """The entry for a llama.cpp architecture name, or None when adapters cannot be made for it."""
    return TRAINABLE.get(name or "")


def gguf_name_of_hf(config: Any) -> str | None:
    """The llama.cpp architecture a transformers config (object or dict) converts to, or None.

    Granite 4's ``granitemoehybrid`` only becomes ``granite`` without Mamba layers
    and experts (else it is ``granitehybrid`` or ``granitemoe``, not trainable here).
    """
    def value(key: str, default: Any = None) -> Any:
        return config.get(key, default) if isinstance(config, dict) else getattr(config, key, default)

    model_type = value("model_type")
    if model_type == "granitemoehybrid":
        if any(t in _MAMBA_LAYER_TYPES for t in value("layer_types") or _MAMBA_LAYER_TYPES):
            return "granitehybrid"
        if value("num_local_experts"):
            return "granitemoe"
    return next((a.name for a in TRAINABLE.values() if model_type in a.hf_types), None)


@lru_cache(maxsize=32)
def _name_map(arch_name: str, n_layers: int):
    import gguf

    return gguf.TensorNameMap(TRAINABLE[arch_name].model_arch, n_layers)


def layer_tensors(arch: Architecture, layer: int, module: str, n_layers: int) -> tuple[str, ...]:
    """GGUF tensor names (without ``.weight``) of ``module`` (e.g. ``self_attn.q_proj``) in block ``layer``.

    Empty when llama.cpp has no tensor for it. A fused module gives several names,
    one per slice of its output rows.
    """
    parts = arch.splits.get(module) or (arch.aliases.get(module, module),)
    names = tuple(_name_map(arch.name, n_layers).get_name(f"model.layers.{layer}.{part}") for part in parts)
    return names if all(names) else ()
