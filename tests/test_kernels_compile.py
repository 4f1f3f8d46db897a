"""Compile every Triton kernel for a Hopper GPU (sm_90a) on a machine without one.

The interpreter (``tests/test_kernels.py``) checks what the kernels compute; it does not run Triton's
compiler, so type errors in loop-carried values, layouts or options only the GPU backend rejects would
surface only on a GPU.  Triton's NVIDIA backend (LLVM and the ``ptxas`` shipped in the wheel) compiles
without a device, so this module builds each kernel, with the block sizes the wrappers use on a GPU, for
``GPUTarget("cuda", 90, 32)``, and checks that the bf16 VQ search uses Hopper's ``wgmma`` tensor-core
instructions.  Skipped where Triton or its NVIDIA backend is missing, or where the kernels were imported
under ``TRITON_INTERPRET=1``.  (Compiled kernels land in Triton's cache, so reruns are quick.)
"""

from __future__ import annotations

import pytest

triton = pytest.importorskip("triton")

from triton.compiler import ASTSource  # noqa: E402

from ncodec.kernels import triton_binary as tbin  # noqa: E402
from ncodec.kernels import triton_fsq as tfsq  # noqa: E402
from ncodec.kernels import triton_vq as tvq  # noqa: E402

pytestmark = [
    pytest.mark.skipif(tvq.common.INTERPRET, reason="kernels decorated for the interpreter"),
    pytest.mark.skipif("nvidia" not in triton.backends.backends, reason="Triton without its NVIDIA backend"),
]

F32 = "*fp32"


def _compile(fn, signature: dict[str, str], constexprs: dict[str, object], **options):
    from triton.backends.compiler import GPUTarget

    sig = dict(signature)
    for name in constexprs:
        sig[name] = "constexpr"
    src = ASTSource(fn=fn, signature=sig, constexprs=constexprs)
    return triton.compile(src, target=GPUTarget("cuda", 90, 32), options=options)


def _vq_sig(ptr: str) -> dict[str, str]:
    return {
        "x_ptr": ptr, "c_ptr": ptr, "w_ptr": F32, "val_ptr": F32, "idx_ptr": "*i64", "N": "i32", "K": "i32",
        "D": "i32", "k_per_split": "i32", "stride_xn": "i32", "stride_cn": "i32", "stride_on": "i32",
        "SIZE_CLASS": "i32",
    }


@pytest.mark.parametrize(
    "ptr,precision,one_d,cosine,blocks,warps,stages",
    [
        ("*bf16", "tf32", True, False, (128, 128, 64), 8, 3),
        ("*bf16", "tf32", False, True, (128, 128, 32), 8, 4),
        ("*fp16", "tf32", True, True, (128, 256, 64), 8, 3),
        ("*fp32", "ieee", False, False, (64, 128, 32), 8, 3),
        ("*fp32", "tf32", True, False, (64, 64, 64), 4, 3),
    ],
)
def test_vq_search_kernel_compiles_for_sm90(ptr, precision, one_d, cosine, blocks, warps, stages) -> None:
    bn, bk, bd = blocks
    k = _compile(
        tvq._vq_argmin_kernel, _vq_sig(ptr),
        {"COSINE": cosine, "ONE_D_BLOCK": one_d, "UPCAST": False, "PRECISION": precision,
         "BLOCK_N": bn, "BLOCK_K": bk, "BLOCK_D": bd},
        num_warps=warps, num_stages=stages,
    )
    ptx = k.asm["ptx"]
    if ptr != "*fp32" or precision == "tf32":
        assert "wgmma" in ptx, "VQ search is not on Hopper's tensor cores (wgmma)"
    assert "cubin" in k.asm


def test_every_autotune_config_is_valid() -> None:
    """The GPU autotuning space, after pruning for a one-block D, keeps BLOCK_D equal to that block."""
    configs = tvq._configs()
    kept = tvq._prune(configs, {"D": 48}, ONE_D_BLOCK=True)
    assert kept and all(c.kwargs["BLOCK_D"] == 64 for c in kept)
    assert tvq._prune(configs, {"D": 300}, ONE_D_BLOCK=False) == configs
    for c in configs:
        assert all(c.kwargs[b] >= 16 for b in ("BLOCK_N", "BLOCK_K", "BLOCK_D"))  # tl.dot minimum


def test_support_kernels_compile_for_sm90() -> None:
    _compile(
        tvq._row_stat_kernel,
        {"src_ptr": "*bf16", "out_ptr": F32, "R": "i32", "D": "i32", "stride_r": "i32"},
        {"MODE": 1, "BLOCK_R": 64, "BLOCK_D": 128},
    )
    _compile(
        tvq._rvq_kernel,
        {"x_ptr": "*bf16", "cb_ptr": "*bf16", "h_ptr": F32, "res_ptr": F32, "q_ptr": F32, "idx_ptr": "*i64",
         "N": "i32", "K": "i32", "D": "i32", "S": "i32", "stride_xn": "i32", "stride_cs": "i32",
         "stride_ck": "i32", "stride_hs": "i32", "stride_rn": "i32", "stride_qn": "i32", "stride_in": "i32"},
        {"PRECISION": "ieee", "BLOCK_N": 64, "BLOCK_K": 64, "BLOCK_D": 32},
        num_warps=8, num_stages=3,
    )


def test_scalar_quantizer_kernels_compile_for_sm90() -> None:
    _compile(
        tfsq._fsq_quantize_kernel,
        {"z_ptr": "*bf16", "shift_ptr": F32, "half_ptr": F32, "offset_ptr": F32, "lv_ptr": "*i64",
         "basis_ptr": "*i64", "sym_ptr": "*i64", "packed_ptr": "*i64", "M": "i32", "d": "i32",
         "stride_zm": "i32"},
        {"USE_LIBDEVICE": True, "BLOCK_M": 256, "BLOCK_D": 8},
        num_warps=8, enable_fp_fusion=False,
    )
    for int32_math in (True, False):
        _compile(
            tfsq._fsq_unpack_kernel,
            {"packed_ptr": "*i64", "lv_ptr": "*i64", "basis_ptr": "*i64", "sym_ptr": "*i64", "codes_ptr": F32,
             "M": "i32", "d": "i32"},
            {"WITH_SYMBOLS": True, "WITH_CODES": True, "INT32_MATH": int32_math,
             "BLOCK_M": 256, "BLOCK_D": 8},
            num_warps=8,
        )
    _compile(
        tbin._binary_quantize_kernel,
        {"z_ptr": "*fp16", "codes_ptr": F32, "packed_ptr": "*i64", "groups_ptr": "*i64", "M": "i32",
         "d": "i32", "stride_zm": "i32", "scale": "fp32"},
        {"GROUP_SIZE": 9, "N_GROUPS": 2, "BLOCK_M": 64, "BLOCK_D": 32},
        num_warps=8,
    )
    _compile(
        tbin._binary_dequantize_kernel,
        {"packed_ptr": "*i64", "codes_ptr": F32, "M": "i32", "d": "i32", "scale": "fp32"},
        {"BLOCK_M": 64, "BLOCK_D": 32},
        num_warps=8,
    )
