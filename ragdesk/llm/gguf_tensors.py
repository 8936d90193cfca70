"""Reading, dequantizing and re-writing GGUF files with the ``gguf`` package.

Shared by the LoRA merger, the PEFT importer and the test fixtures. Only numpy
and ``gguf`` are needed here (no torch, no llama.cpp).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ragdesk.errors import RagdeskError

# Metadata keys the GGUF writer produces itself; copying them would duplicate them.
_WRITER_OWNED_KEYS = ("GGUF.", "general.architecture")


class GGUFReadError(RagdeskError):
    """A file could not be read as a GGUF model or adapter."""


def llama_qk_permute(weight: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder the rows of a Q or K projection from Hugging Face's rotary layout to llama.cpp's.

    Hugging Face rotates the two halves of each head (``rotate_half``); llama.cpp's
    ``llama`` architecture rotates adjacent pairs. Within every head, row ``j`` of the
    first half goes to row ``2j`` and row ``j`` of the second half to row ``2j+1``.
    ``n_head`` is the number of heads the rows are split into (the KV head count for K).
    Works on any array whose first axis is the output rows (a weight or a LoRA ``B``).
    """
    rows = weight.shape[0]
    if rows % (2 * n_head):
        raise ValueError(f"cannot split {rows} rows into {n_head} rotary heads")
    half = rows // n_head // 2
    rest = weight.shape[1:]
    return weight.reshape(n_head, 2, half, *rest).swapaxes(1, 2).reshape(weight.shape)


def open_gguf(path: Path) -> Any:
    """Open a GGUF file for reading (memory-mapped); a clear error if it is not one."""
    from gguf import GGUFReader

    path = Path(path)
    if not path.is_file():
        raise GGUFReadError(f"{path} does not exist or is not a file.")
    try:
        return GGUFReader(path, "r")
    except Exception as exc:  # the reader raises ValueError/IndexError/struct errors on junk
        raise GGUFReadError(f"{path} is not a readable GGUF file ({exc}).") from None


def field_value(reader: Any, key: str, default: Any = None) -> Any:
    """One metadata value as a Python object (str, number, bool or list), or ``default``."""
    field = reader.fields.get(key)
    if field is None:
        return default
    return field.contents()


def tensor_map(reader: Any) -> dict[str, Any]:
    """Tensor name -> ``ReaderTensor``."""
    return {t.name: t for t in reader.tensors}


def tensor_shape(tensor: Any) -> tuple[int, ...]:
    """The logical numpy shape (rows first) of a reader tensor, whatever its quantization."""
    return tuple(int(d) for d in reversed(tensor.shape.tolist()))


def dequantize(tensor: Any) -> np.ndarray:
    """A reader tensor as float32 with its logical numpy shape."""
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize as gguf_dequantize

    kind = tensor.tensor_type
    if kind == GGMLQuantizationType.F32:
        data = np.asarray(tensor.data, dtype=np.float32)
    elif kind == GGMLQuantizationType.F16:
        data = np.asarray(tensor.data).astype(np.float32)
    else:
        try:
            data = gguf_dequantize(np.asarray(tensor.data), kind)
        except NotImplementedError:
            raise GGUFReadError(
                f"tensor {tensor.name} uses {kind.name}, which cannot be dequantized here."
            ) from None
    return np.ascontiguousarray(data.reshape(tensor_shape(tensor)), dtype=np.float32)


def copy_metadata(reader: Any, writer: Any, *, skip: tuple[str, ...] = ()) -> None:
    """Copy every metadata field of ``reader`` to ``writer`` except the writer-owned ones.

    Strings are copied as raw bytes so tokens that are not valid UTF-8 survive.
    """
    from gguf import GGUFValueType

    for key, field in reader.fields.items():
        if key.startswith(_WRITER_OWNED_KEYS) or key in skip:
            continue
        main = GGUFValueType(field.types[0])
        if main == GGUFValueType.ARRAY:
            sub = GGUFValueType(field.types[-1])
            if not field.data:
                continue  # the writer cannot express an empty array; llama.cpp treats it as absent
            if sub == GGUFValueType.STRING:
                value = [bytes(field.parts[i]) for i in field.data]
            else:
                value = [field.parts[i].tolist()[0] for i in field.data]
            writer.add_key_value(key, value, main, sub_type=sub)
        elif main == GGUFValueType.STRING:
            writer.add_key_value(key, bytes(field.parts[-1]), main)
        else:
            writer.add_key_value(key, field.parts[-1].tolist()[0], main)


def add_raw_tensor(writer: Any, tensor: Any) -> None:
    """Add a reader tensor to ``writer`` unchanged (same bytes, same quantization)."""
    # For quantized types the reader hands out bytes (rows x bytes-per-row); the
    # writer derives the logical shape from that byte shape and the type.
    writer.add_tensor(tensor.name, np.asarray(tensor.data), raw_dtype=tensor.tensor_type)


def finish(writer: Any) -> None:
    """Write header, metadata and tensors of ``writer`` to its file and close it."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
