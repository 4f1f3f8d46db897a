"""Shared helpers of the Triton kernels (imported only where Triton is installed).

``INTERPRET`` records whether Triton's CPU interpreter was on (``TRITON_INTERPRET=1``) when this module
was imported: Triton reads that variable when a ``@triton.jit`` function is *decorated*, so kernels
defined in modules imported afterwards are interpreted exactly when this flag is true.

``POISON`` makes :func:`empty` fill every output buffer it allocates with a value no kernel writes
(NaN for floats, the most negative integer for integers), so tests detect unwritten elements.
"""

from __future__ import annotations

import torch
import triton

INTERPRET: bool = bool(triton.knobs.runtime.interpret)

#: When true, :func:`empty` poisons the buffers it returns (set by the tests).
POISON: bool = False


def empty(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``torch.empty``, filled with a poison value when :data:`POISON` is set."""
    out = torch.empty(shape, dtype=dtype, device=device)
    if POISON:
        if dtype.is_floating_point:
            out.fill_(float("nan"))
        else:
            out.fill_(torch.iinfo(dtype).min)
    return out


def launch_options(num_warps: int | None = None, fp_fusion: bool = True) -> dict:
    """Compiler options for a launch (``num_warps``; ``fp_fusion=False`` forbids FMA contraction);
    empty under the interpreter, which has no compiler."""
    if INTERPRET:
        return {}
    opts: dict = {} if fp_fusion else {"enable_fp_fusion": False}
    if num_warps is not None:
        opts["num_warps"] = num_warps
    return opts


def num_sms(device: torch.device) -> int:
    """Number of streaming multiprocessors of a CUDA device (a nominal 4 on the CPU interpreter)."""
    if device.type != "cuda":
        return 4
    return torch.cuda.get_device_properties(device).multi_processor_count


#: Input dtypes the kernels read directly (others are converted to float32 first).
SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def as_rows(z: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Size]:
    """Channels-last ``z (..., d)`` → rows ``(M, d)`` with unit stride along ``d`` (a supported dtype),
    and the leading shape to restore outputs with."""
    if z.dtype not in SUPPORTED_DTYPES:
        z = z.float()
    rows = z.reshape(-1, d)
    if rows.stride(-1) != 1:
        rows = rows.contiguous()
    return rows, z.shape[:-1]
