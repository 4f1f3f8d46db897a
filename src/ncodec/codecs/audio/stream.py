"""Streaming pieces of the audio codec: a fixed-grid resampler, the block encoder and the block decoder.

Exact tokens whatever the chunking: every computation that decides a token runs on a fixed grid tied to
the start of the file, never to how the caller cut it.  The resampler produces its output in fixed
blocks, each from the same window of input samples; the encoder runs on fixed blocks of
:data:`ENC_BLOCK` token frames, each with the same :data:`ENC_CONTEXT` frames of left context (zeros
before the start), one block per call with the same tensor shapes.  Feeding one sample at a time, one
second, seven seconds or the whole file therefore makes the same calls on the same numbers, and the same
tokens.

Latency: a token frame covers ``frame_samples`` samples and ends where its STFT window ends; a sample
is final once the ``n_fft / hop`` STFT frames that cover it are decoded, so the algorithmic latency is
``(frame_samples + n_fft - hop) / sample_rate`` (50 ms for the 16 kHz models: 20 ms frames, 30 ms
overlap-add).  The encoder emits tokens a block (:data:`ENC_BLOCK` frames) at a time.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ncodec.codecs.audio.models import AudioTokenModel

#: Token frames per encoder call, and frames of left context each call sees.
ENC_BLOCK = 10
ENC_CONTEXT = 32
#: Token frames per decoder call, and the frames of left context it re-decodes.
DEC_BLOCK = 50
DEC_CONTEXT = 36


class BlockResampler:
    """``orig`` → ``new`` Hz in fixed blocks (torchaudio's band-limited sinc kernel on padded windows).

    With ``g = gcd(orig, new)`` the resampling pattern repeats every ``orig / g`` input samples; blocks
    are whole periods, and each output block is computed from its input block plus ``pad`` periods on
    both sides (zeros before the start and after the end), so output sample ``i`` is always computed
    from the same window.  Feed with :meth:`feed`, finish with :meth:`flush`.
    """

    def __init__(self, orig: int, new: int) -> None:
        self.orig, self.new = int(orig), int(new)
        g = math.gcd(self.orig, self.new)
        pin, pout = self.orig // g, self.new // g
        periods = max(1, round(0.1 * self.orig / pin))  # ~100 ms blocks
        self.bin, self.bout = periods * pin, periods * pout
        half = 16 * self.orig / min(self.orig, self.new) + 8  # > the kernel's half width (6 zero crossings)
        pad_periods = math.ceil(half / pin)
        self.pad_in, self.pad_out = pad_periods * pin, pad_periods * pout
        self.buf = np.zeros(self.pad_in, dtype=np.float32)  # left padding: zeros before the start
        self.consumed_in = 0  # input samples fed
        self.block = 0

    @property
    def identity(self) -> bool:
        return self.orig == self.new

    def _run(self, window: np.ndarray) -> np.ndarray:
        import torchaudio.functional as AF

        y = AF.resample(torch.from_numpy(window)[None], self.orig, self.new)[0].numpy()
        return y[self.pad_out : self.pad_out + self.bout]

    def feed(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if self.identity:
            return x
        self.consumed_in += x.shape[0]
        self.buf = np.concatenate([self.buf, x])
        out = []
        need = self.pad_in + self.bin + self.pad_in
        while self.buf.shape[0] >= need:
            out.append(self._run(self.buf[:need]))
            self.buf = self.buf[self.bin :]
            self.block += 1
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def flush(self) -> np.ndarray:
        """The rest, up to ``ceil(fed · new / orig)`` output samples in all."""
        if self.identity:
            return np.zeros(0, np.float32)
        total = -(-self.consumed_in * self.new // self.orig)
        done = self.block * self.bout
        out = []
        while done < total:
            need = self.pad_in + self.bin + self.pad_in
            window = np.zeros(need, np.float32)
            n = min(need, self.buf.shape[0])
            window[:n] = self.buf[:n]
            y = self._run(window)[: total - done]
            out.append(y)
            done += y.shape[0]
            self.buf = self.buf[min(self.bin, self.buf.shape[0]) :]
            self.block += 1
        return np.concatenate(out) if out else np.zeros(0, np.float32)


class StreamEncoder:
    """Samples of one channel at the model's rate → tokens ``(stages, frames)``, block by block."""

    def __init__(self, model: AudioTokenModel, stages: int) -> None:
        self.model, self.stages = model, int(stages)
        self.fs = model.cfg.frame_samples
        self.tail = model.cfg.n_fft - model.cfg.hop
        self.history = np.zeros(ENC_CONTEXT * self.fs, np.float32)
        self.pending = np.zeros(0, np.float32)
        self.fed = 0
        self.emitted = 0  # token frames produced
        self.emitted_blocks = 0

    @torch.no_grad()
    def _block(self, samples: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.concatenate([self.history, samples]))[None]
        frame0 = (self.emitted_blocks * ENC_BLOCK - ENC_CONTEXT) * self.model.cfg.down  # absolute STFT frame
        z = self.model.encoder(x, frame0)[:, :, ENC_CONTEXT:]
        self.emitted_blocks += 1
        tok = self.model.quantizer.quantize(z, n_q=self.stages)[0].numpy()
        self.history = np.concatenate([self.history, samples])[-ENC_CONTEXT * self.fs :]
        return tok

    def feed(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        self.fed += x.shape[0]
        self.pending = np.concatenate([self.pending, x])
        out = []
        n = ENC_BLOCK * self.fs
        while self.pending.shape[0] >= n:
            out.append(self._block(self.pending[:n]))
            self.pending = self.pending[n:]
        return self._emit(out)

    def _emit(self, out: list[np.ndarray]) -> np.ndarray:
        tok = np.concatenate(out, axis=1) if out else np.zeros((self.stages, 0), np.int64)
        self.emitted += tok.shape[1]
        return tok

    @staticmethod
    def frames_for(samples: int, frame_samples: int, tail: int) -> int:
        """Token frames a signal of ``samples`` samples is coded in (its decoder look-ahead included)."""
        return max(1, -(-(samples + tail) // frame_samples))

    def flush(self) -> np.ndarray:
        """Tokens of the rest (zeros appended for the decoder's look-ahead and the last block)."""
        total = self.frames_for(self.fed, self.fs, self.tail)
        out = []
        n = ENC_BLOCK * self.fs
        left = total - self.emitted
        while left > 0:
            block = np.zeros(n, np.float32)
            k = min(n, self.pending.shape[0])
            block[:k] = self.pending[:k]
            self.pending = self.pending[k:]
            tok = self._block(block)[:, : min(ENC_BLOCK, left)]
            out.append(tok)
            left -= tok.shape[1]
        return self._emit(out)


class StreamDecoder:
    """Tokens ``(B, stages, frames)`` → samples ``(B, n)`` at the model's rate, block by block.

    Each call decodes :data:`DEC_BLOCK` new frames with :data:`DEC_CONTEXT` frames of re-decoded left
    context and emits the samples that are final: decoding runs ``n_fft - hop`` samples behind the
    tokens.  ``start_frame > 0`` starts mid-file; ``context`` are the frames before it (if known).
    """

    def __init__(
        self, model: AudioTokenModel, context: np.ndarray | None = None, start_frame: int = 0
    ) -> None:
        """``start_frame``: the absolute token frame of the first token fed (after ``context``)."""
        self.model = model
        self.fs = model.cfg.frame_samples
        self.tail = model.cfg.n_fft - model.cfg.hop
        self.ctx = None if context is None or context.shape[-1] == 0 else context[..., -DEC_CONTEXT:]
        self.pending: np.ndarray | None = None
        self.next_frame = int(start_frame)  # absolute token frame of the next token to decode

    @torch.no_grad()
    def _block(self, tok: np.ndarray, final: bool) -> np.ndarray:
        ctx_n = 0 if self.ctx is None else self.ctx.shape[-1]
        full = tok if self.ctx is None else np.concatenate([self.ctx, tok], axis=-1)
        z = self.model.quantizer.dequantize(torch.from_numpy(full))
        y = self.model.decoder(z, (self.next_frame - ctx_n) * self.model.cfg.down).numpy()
        self.next_frame += tok.shape[-1]
        begin = 0 if self.ctx is None else ctx_n * self.fs - self.tail
        end = y.shape[-1] if final else y.shape[-1] - self.tail
        self.ctx = full[..., -DEC_CONTEXT:]
        return y[..., begin:end]

    def feed(self, tokens: np.ndarray, final: bool = False) -> np.ndarray:
        tokens = np.asarray(tokens, dtype=np.int64)
        self.pending = tokens if self.pending is None else np.concatenate([self.pending, tokens], axis=-1)
        out = []
        while self.pending.shape[-1] >= DEC_BLOCK and not (final and self.pending.shape[-1] == DEC_BLOCK):
            out.append(self._block(self.pending[..., :DEC_BLOCK], final=False))
            self.pending = self.pending[..., DEC_BLOCK:]
        if final and self.pending.shape[-1]:
            out.append(self._block(self.pending, final=True))
            self.pending = self.pending[..., :0]
        if not out:
            return np.zeros((*tokens.shape[:-2], 0), np.float32)
        return np.concatenate(out, axis=-1)
