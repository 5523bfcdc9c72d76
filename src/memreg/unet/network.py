"""The DDPM++ U-Net of Song et al. (2021) in the configuration EDM trains (family K).

Sized by one knob, ``model_channels`` = C. With channel multipliers m_l (paper:
[2, 2, 2]) level l works at resolution R / 2^l with C m_l channels; each level has
``num_blocks`` residual blocks in the encoder and num_blocks + 1 in the decoder,
whose inputs concatenate the matching encoder activations (skip connections).
Between levels the resolution halves (encoder) or doubles (decoder) inside a
residual block whose 3x3 convolution and 1x1 shortcut resample by the box filter
[1, 1] x [1, 1]. Self-attention (one head) follows the blocks at the resolutions in
``attn_resolutions`` (encoder: every block there; decoder: the last block of the
level) and the first block of the bottleneck.

The noise level enters as a positional embedding of c_noise (C frequencies, sin
and cos), mapped by two linear layers with SiLU to 4C features, added per channel
after the first convolution of every block. A residual block:

    h = conv3x3(silu(groupnorm(x)))           (resampled when changing resolution)
    h = conv3x3(silu(groupnorm(h + A emb)))
    x = (h + shortcut(x)) / sqrt(2)
    x = (x + proj(attention(groupnorm(x)))) / sqrt(2)     where attention is on

shortcut = identity, or a 1x1 convolution when the channel count or resolution
changes. Group normalization uses min(32, channels / 4) groups. With 1 image
channel, R = 64, m = [2, 2, 2], 4 blocks and attention at 16x16 the parameter
counts for C = 4, 8, 16, 32, 64, 128 are those of the paper's legend (tests).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SettingError


@dataclass(frozen=True)
class UNetConfig:
    """Shape of a U-Net; the paper's settings are the defaults. Bad shapes raise
    :class:`SettingError`."""

    resolution: int = 64
    channels: int = 1
    model_channels: int = 128
    channel_mult: tuple[int, ...] = (2, 2, 2)
    num_blocks: int = 4
    attn_resolutions: tuple[int, ...] = (16,)
    emb_mult: int = 4
    dropout: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel_mult", tuple(int(m) for m in self.channel_mult))
        object.__setattr__(self, "attn_resolutions", tuple(int(r) for r in self.attn_resolutions))
        for key in ("channels", "num_blocks", "emb_mult"):
            if getattr(self, key) < 1:
                raise SettingError(key, getattr(self, key), "an integer >= 1")
        if self.model_channels < 4:  # channels // 4 groups: at least one
            raise SettingError("model_channels", self.model_channels, "an integer >= 4")
        if not self.channel_mult or min(self.channel_mult) < 1:
            raise SettingError("channel_mult", list(self.channel_mult),
                               "a non-empty list of integers >= 1")  # fmt: skip
        halvings = len(self.channel_mult) - 1
        factor = 2**halvings
        if self.resolution < factor or self.resolution % factor:
            raise SettingError("resolution", self.resolution,
                               f"a multiple of {factor} (at least {factor}: the U-Net halves it "
                               f"{halvings} times, one level per channel_mult entry)")  # fmt: skip
        levels = [self.resolution >> k for k in range(len(self.channel_mult))]
        if any(r not in levels for r in self.attn_resolutions):
            raise SettingError("attn_resolutions", list(self.attn_resolutions),
                               f"resolutions among the U-Net's levels {levels}")  # fmt: skip
        if not 0 <= self.dropout < 1:
            raise SettingError("dropout", self.dropout, "a number in [0, 1)")

    def record(self) -> dict[str, Any]:
        out = asdict(self)
        out["channel_mult"] = list(self.channel_mult)
        out["attn_resolutions"] = list(self.attn_resolutions)
        return out


def _xavier(module: nn.Module, gain: float = 1.0) -> nn.Module:
    """Xavier-uniform weights (scaled by ``gain``) and zero biases."""
    nn.init.xavier_uniform_(module.weight, gain=gain)
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return module


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, channels // 4), channels, eps=1e-6)


def box_down(x: torch.Tensor) -> torch.Tensor:
    """Average over 2x2 blocks: the [1, 1] x [1, 1] / 4 filter with stride 2."""
    return F.avg_pool2d(x, 2)


def box_up(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour doubling: the transposed [1, 1] x [1, 1] filter with stride 2."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


class ResBlock(nn.Module):
    """Residual block with noise-embedding shift, optional resampling and attention."""

    def __init__(
        self,
        cin: int,
        cout: int,
        emb: int,
        *,
        resample: str | None = None,
        attention: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.resample = {None: None, "down": box_down, "up": box_up}[resample]
        self.norm0, self.conv0 = group_norm(cin), _xavier(nn.Conv2d(cin, cout, 3, padding=1))
        self.affine = _xavier(nn.Linear(emb, cout))
        self.norm1 = group_norm(cout)
        self.conv1 = _xavier(nn.Conv2d(cout, cout, 3, padding=1), gain=1e-5)
        self.dropout = dropout
        self.shortcut = None
        if cin != cout or resample is not None:
            self.shortcut = _xavier(nn.Conv2d(cin, cout, 1))
        self.attention = attention
        if attention:
            self.norm2 = group_norm(cout)
            self.qkv = _xavier(nn.Conv2d(cout, 3 * cout, 1), gain=math.sqrt(0.2))
            self.proj = _xavier(nn.Conv2d(cout, cout, 1), gain=1e-5)

    def _resample(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.resample is None else self.resample(x)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv0(self._resample(F.silu(self.norm0(x))))
        h = F.silu(self.norm1(h + self.affine(emb)[:, :, None, None]))
        h = self.conv1(F.dropout(h, self.dropout, self.training))
        skip = self._resample(x) if self.shortcut is None else self.shortcut(self._resample(x))
        x = (h + skip) / math.sqrt(2)
        if self.attention:
            B, C, H, W = x.shape
            q, k, v = self.qkv(self.norm2(x)).reshape(B, 3, C, H * W).unbind(1)
            w = torch.softmax(torch.einsum("bcq,bck->bqk", q, k) / math.sqrt(C), dim=-1)
            a = torch.einsum("bqk,bck->bcq", w, v).reshape(B, C, H, W)
            x = (x + self.proj(a)) / math.sqrt(2)
        return x


def positional_embedding(c_noise: torch.Tensor, channels: int, max_positions: float = 1e4):
    """[cos(c_noise f_k), sin(c_noise f_k)], f_k = max_positions^(-k / (channels/2 - 1))."""
    half = channels // 2
    k = torch.arange(half, dtype=torch.float32, device=c_noise.device)
    freqs = max_positions ** (-k / max(half - 1, 1))
    angle = c_noise.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(angle), torch.sin(angle)], dim=1)


class UNet(nn.Module):
    """F_theta(x, c_noise): (B, channels, R, R), (B,) -> (B, channels, R, R)."""

    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        C, emb = cfg.model_channels, cfg.model_channels * cfg.emb_mult
        self.map0, self.map1 = _xavier(nn.Linear(C, emb)), _xavier(nn.Linear(emb, emb))
        block = dict(emb=emb, dropout=cfg.dropout)

        self.enc = nn.ModuleList()
        skips = []
        cout = cfg.model_channels
        self.conv_in = _xavier(nn.Conv2d(cfg.channels, cout, 3, padding=1))
        skips.append(cout)
        for level, mult in enumerate(cfg.channel_mult):
            res = cfg.resolution >> level
            if level > 0:
                self.enc.append(ResBlock(cout, cout, resample="down", **block))
                skips.append(cout)
            for _ in range(cfg.num_blocks):
                cin, cout = cout, C * mult
                self.enc.append(ResBlock(cin, cout, attention=res in cfg.attn_resolutions, **block))
                skips.append(cout)

        self.dec = nn.ModuleList()
        self.mid = nn.ModuleList(
            [ResBlock(cout, cout, attention=True, **block), ResBlock(cout, cout, **block)]
        )
        for level, mult in reversed(list(enumerate(cfg.channel_mult))):
            res = cfg.resolution >> level
            if level < len(cfg.channel_mult) - 1:
                self.dec.append(ResBlock(cout, cout, resample="up", **block))
            for idx in range(cfg.num_blocks + 1):
                cin, cout = cout + skips.pop(), C * mult
                attn = idx == cfg.num_blocks and res in cfg.attn_resolutions
                self.dec.append(ResBlock(cin, cout, attention=attn, **block))
        self.norm_out = group_norm(cout)
        self.conv_out = _xavier(nn.Conv2d(cout, cfg.channels, 3, padding=1), gain=1e-5)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        emb = positional_embedding(c_noise, self.cfg.model_channels).to(x.dtype)
        emb = F.silu(self.map1(F.silu(self.map0(emb))))
        x = self.conv_in(x)
        skips = [x]
        for blk in self.enc:
            x = blk(x, emb)
            skips.append(x)
        for blk in self.mid:
            x = blk(x, emb)
        for blk in self.dec:
            if blk.resample is None:  # every non-resampling decoder block takes a skip
                x = torch.cat([x, skips.pop()], dim=1)
            x = blk(x, emb)
        return self.conv_out(F.silu(self.norm_out(x)))
