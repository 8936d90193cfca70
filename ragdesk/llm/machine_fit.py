"""Which catalogue models suit this computer: memory needed, memory present, the recommendation.

One place decides all three, for the CLI (``ragdesk models list``) and the Models
dialog alike. The estimate is deliberately simple: the file (llama.cpp maps it
into memory whole), the KV cache at the default context, and a fixed allowance
for llama.cpp's compute buffers. A model is recommended when it needs at most
half of the computer's memory, leaving the rest to the system, other programs and
ragdesk's own index and embedding model; of those, the largest (the best answers)
come first.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import fields

from ragdesk.llm.catalogue import CATALOGUE, CatalogueEntry
from ragdesk.settings import Settings

DEFAULT_CONTEXT: int = next(f.default for f in fields(Settings) if f.name == "n_ctx")  # tokens
KV_BYTES = 2  # llama.cpp keeps K and V in f16 by default
RUNTIME_OVERHEAD = 512 << 20  # compute buffers and scratch space, measured a few hundred MB on small models
MODEL_SHARE = 0.5  # of the total memory, what a recommended model may use
RECOMMENDED = 3  # how many models are recommended (the largest that fit)
GIB = 1 << 30


def kv_cache_bytes(entry: CatalogueEntry, n_ctx: int = DEFAULT_CONTEXT) -> int:
    """Bytes of the KV cache for ``n_ctx`` tokens: K and V for every layer and KV head."""
    return 2 * entry.layers * entry.kv_heads * entry.head_dim * KV_BYTES * n_ctx


def memory_needed(entry: CatalogueEntry, n_ctx: int = DEFAULT_CONTEXT) -> int:
    """Estimated bytes of memory to chat with ``entry`` at a context of ``n_ctx`` tokens."""
    return entry.approx_size + kv_cache_bytes(entry, n_ctx) + RUNTIME_OVERHEAD


def fits(entry: CatalogueEntry, total_memory: int, n_ctx: int = DEFAULT_CONTEXT) -> bool:
    """Whether ``entry`` needs at most :data:`MODEL_SHARE` of ``total_memory`` bytes."""
    return memory_needed(entry, n_ctx) <= total_memory * MODEL_SHARE


def recommend(total_memory: int | None, entries: Iterable[CatalogueEntry] = CATALOGUE, *,
              n_ctx: int = DEFAULT_CONTEXT, limit: int = RECOMMENDED) -> list[CatalogueEntry]:
    """The models to recommend on a computer with ``total_memory`` bytes, best first.

    The ``limit`` largest of those that fit; none when the memory is unknown.
    """
    if not total_memory:
        return []
    fitting = [e for e in entries if fits(e, total_memory, n_ctx)]
    return sorted(fitting, key=lambda e: memory_needed(e, n_ctx), reverse=True)[:limit]


def describe_memory(total_memory: int) -> str:
    """``16 GB`` (binary gigabytes, as computers are sold)."""
    return f"{max(1, round(total_memory / GIB))} GB"


def describe_need(entry: CatalogueEntry, n_ctx: int = DEFAULT_CONTEXT) -> str:
    """``~3.1 GB``: the estimate, for lists and tooltips."""
    return f"~{memory_needed(entry, n_ctx) / GIB:.1f} GB"


def ordered(entries: Sequence[CatalogueEntry], recommended: Sequence[CatalogueEntry]) -> list[CatalogueEntry]:
    """The recommended entries first (best first), then the others in their given order."""
    return list(recommended) + [e for e in entries if e not in recommended]


# ---------------------------------------------------------------------------- the machine


def machine_memory() -> int | None:
    """Total physical memory in bytes, or None when the system does not say.

    ``RAGDESK_MEMORY_GB`` overrides it (to see the recommendation for another computer).
    """
    override = os.environ.get("RAGDESK_MEMORY_GB")
    if override:
        try:
            return int(float(override) * GIB)
        except ValueError:
            pass
    try:
        if sys.platform == "win32":
            return _windows_memory()
        if sys.platform == "darwin":
            return _sysctl_memory()
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return None


def _windows_memory() -> int:
    class MemoryStatus(ctypes.Structure):  # MEMORYSTATUSEX
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

    status = MemoryStatus()
    status.dwLength = ctypes.sizeof(MemoryStatus)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        raise OSError("GlobalMemoryStatusEx failed")
    return int(status.ullTotalPhys)


def _sysctl_memory() -> int:
    """macOS: ``sysctl hw.memsize`` through libc, without a subprocess."""
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    size = ctypes.c_uint64(0)
    length = ctypes.c_size_t(ctypes.sizeof(size))
    if libc.sysctlbyname(b"hw.memsize", ctypes.byref(size), ctypes.byref(length), None, 0) != 0:
        raise OSError("sysctlbyname(hw.memsize) failed")
    return int(size.value)
