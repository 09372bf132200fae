"""Inconsistent inputs at a vertex (docs/ALGORITHM.md §2), checked on hand-made values."""

import torch

from evolab.evolution.dna import DNA
from evolab.evolution.network import build_network, match_shape


def _grid(c, h, w):
    return torch.arange(c * h * w, dtype=torch.float32).reshape(1, c, h, w)


def test_a_larger_input_is_subsampled_with_a_stride():
    out = match_shape(_grid(1, 4, 4), (1, 2, 2))
    assert out.tolist() == [[[[0.0, 2.0], [8.0, 10.0]]]]


def test_an_odd_sized_input_keeps_the_samples_a_strided_conv_centres_on():
    out = match_shape(_grid(1, 5, 5), (1, 3, 3))
    assert out[0, 0].tolist() == [[0, 2, 4], [10, 12, 14], [20, 22, 24]]


def test_a_smaller_input_is_upsampled_by_nearest_neighbour():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert match_shape(x, (1, 4, 4))[0, 0].tolist() == [
        [1, 1, 2, 2],
        [1, 1, 2, 2],
        [3, 3, 4, 4],
        [3, 3, 4, 4],
    ]


def test_extra_channels_are_truncated_and_missing_ones_zero_padded():
    x = torch.tensor([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    assert match_shape(x, (2, 1, 1)).flatten().tolist() == [1.0, 2.0]
    assert match_shape(x, (5, 1, 1)).flatten().tolist() == [1.0, 2.0, 3.0, 0.0, 0.0]


def _two_input_dna(channel_factor, activation="linear"):
    # v0 -e3 identity-> v1 -e4 conv (stride 2)-> v2 (output); skip e5: v0 -> v2.
    return DNA.from_json(
        {
            "schema": 1,
            "learning_rate": 0.1,
            "next_id": 6,
            "vertices": [
                {"id": "v0", "role": "input", "activation": "linear"},
                {"id": "v1", "role": "hidden", "activation": "linear"},
                {"id": "v2", "role": "output", "activation": activation},
            ],
            "edges": [
                {"id": "e3", "src": "v0", "dst": "v1", "kind": "identity", "backbone": True},
                {
                    "id": "e4",
                    "src": "v1",
                    "dst": "v2",
                    "kind": "conv",
                    "backbone": True,
                    "channel_factor": channel_factor,
                    "filter_h": 3.0,
                    "filter_w": 3.0,
                    "stride_log2": 1.0,
                },
                {"id": "e5", "src": "v0", "dst": "v2", "kind": "identity", "backbone": False},
            ],
        }  # fmt: skip
    )


def test_a_skip_from_a_larger_narrower_vertex_is_subsampled_padded_and_summed():
    net = build_network(_two_input_dna(1.5), (2, 4, 4), 3).eval()
    with torch.no_grad():
        net.convs["e4"].weight.zero_()
        net.convs["e4"].weight[2, 0, 1, 1] = 10.0  # out channel 2 = 10 x centre of channel 0
    x = _grid(2, 4, 4)
    out = net.vertex_outputs(x)["v2"]
    assert out.shape == (1, 3, 2, 2)
    assert out[0, 0].tolist() == [[0, 2], [8, 10]]  # skip only: x[0, ::2, ::2]
    assert out[0, 1].tolist() == [[16, 18], [24, 26]]  # skip only: x[1, ::2, ::2]
    assert out[0, 2].tolist() == [[0, 20], [80, 100]]  # conv only; the skip is padded with 0


def test_a_skip_from_a_wider_vertex_is_truncated_then_activated():
    net = build_network(_two_input_dna(0.5, "bn_relu"), (2, 4, 4), 3).eval()
    with torch.no_grad():
        net.convs["e4"].weight.fill_(0.0)
        net.convs["e4"].weight[0, 1, 1, 1] = -1.0  # out = -(channel 1)
    x = _grid(2, 4, 4)
    out = net.vertex_outputs(x)["v2"]
    assert out.shape == (1, 1, 2, 2)
    # skip keeps channel 0 only; sum = x0 - x1 = -16 everywhere; BN (eval, fresh) then ReLU.
    assert torch.equal(out, torch.zeros(1, 1, 2, 2))
    with torch.no_grad():
        net.convs["e4"].weight[0, 1, 1, 1] = 0.5
    expected = (x[:, :1, ::2, ::2] + 0.5 * x[:, 1:, ::2, ::2]) / (1 + 1e-5) ** 0.5
    assert expected.min() > 0
    assert torch.allclose(net.vertex_outputs(x)["v2"], expected)
