"""The DDPM++ U-Net: the paper's parameter counts, shapes, refused configurations."""

from __future__ import annotations

import pytest
import torch

from memreg.errors import SettingError
from memreg.unet.network import UNet, UNetConfig, positional_embedding

# The legend of the paper's figure (model_channels -> parameters), 64x64, 1 channel.
PAPER_COUNTS = {
    4: 57_017,
    8: 222_705,
    16: 880_097,
    32: 3_498_945,
    64: 13_952_897,
    128: 55_725_825,
}


@pytest.mark.parametrize("channels, count", PAPER_COUNTS.items())
def test_parameter_counts_match_the_paper(channels, count):
    with torch.device("meta"):  # no memory, no initialization cost
        net = UNet(UNetConfig(model_channels=channels))
    assert net.n_params == count


def test_counts_do_not_depend_on_resolution_when_levels_match():
    small = UNet(UNetConfig(resolution=16, model_channels=4, attn_resolutions=(4,)))
    assert small.n_params == PAPER_COUNTS[4]


def test_output_has_the_input_shape_and_depends_on_the_noise_level():
    torch.manual_seed(0)
    net = UNet(UNetConfig(resolution=16, model_channels=4, attn_resolutions=(4,)))
    for p in net.parameters():  # the zero-initialized output layers would hide the noise input
        torch.nn.init.normal_(p, std=0.1)
    x = torch.randn(3, 1, 16, 16)
    a, b = net(x, torch.zeros(3)), net(x, torch.ones(3))
    assert a.shape == x.shape
    assert not torch.allclose(a, b)


def test_positional_embedding_is_cos_then_sin_of_geometric_frequencies():
    emb = positional_embedding(torch.tensor([0.0, 2.0]), 8)
    assert emb.shape == (2, 8)
    assert torch.allclose(emb[0], torch.tensor([1.0] * 4 + [0.0] * 4))
    freqs = 1e4 ** (-torch.arange(4) / 3)
    assert torch.allclose(emb[1, :4], torch.cos(2 * freqs))


@pytest.mark.parametrize(
    "kwargs, name, allowed",
    [
        ({"model_channels": 2}, "model_channels", "an integer >= 4"),
        ({"resolution": 18}, "resolution", "a multiple of 4"),
        ({"channel_mult": ()}, "channel_mult", "a non-empty list"),
        ({"resolution": 32, "attn_resolutions": (16, 5)}, "attn_resolutions",
         "resolutions among the U-Net's levels [32, 16, 8]"),
    ],
)  # fmt: skip
def test_bad_shapes_are_refused(kwargs, name, allowed):
    # the argument, its value and what is allowed (the workflow names its config key instead)
    with pytest.raises(SettingError) as info:
        UNetConfig(**kwargs)
    value = list(kwargs[name]) if isinstance(kwargs[name], tuple) else kwargs[name]
    assert (info.value.name, info.value.value) == (name, value)
    assert str(info.value).startswith(f"{name} = {value!r} is not allowed: {allowed}")
    assert isinstance(info.value, ValueError)
