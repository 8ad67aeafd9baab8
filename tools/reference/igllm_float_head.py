#!/usr/bin/python3
"""IG-LLM float-head oracle: the head as the official code builds it, in PyTorch.

The official IG-LLM code selects the head from `config.float_head_type`:
  linear         nn.Linear(hidden, 1)
  tanh_mlp_gelu  nn.Sequential(nn.Tanh(), nn.Linear(hidden, hidden), GELUActivation(), nn.Linear(hidden, 1))
(transformers' GELUActivation is the exact, erf-based GELU: torch.nn.functional.gelu.)

For each head type this writes tests/data/igllm_float_head/<type>.safetensors holding the head's tensors
under their state-dict names (prefix `float_head.`), a batch of input rows `hidden` [rows, hidden] and the
head's outputs `expected` [rows], computed in float64 from the float32 weights and inputs.
Run with Debian's python3-torch:  /usr/bin/python3 tools/reference/igllm_float_head.py
"""
import json
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

HIDDEN = 64
ROWS = 12


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = np.ascontiguousarray(t.detach().cpu().numpy().astype(np.float32)).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode())
        for b in blobs:
            f.write(b)


def head(kind):
    if kind == "linear":
        return nn.Linear(HIDDEN, 1, bias=True)
    return nn.Sequential(nn.Tanh(), nn.Linear(HIDDEN, HIDDEN, bias=True), nn.GELU(), nn.Linear(HIDDEN, 1, bias=True))


def main():
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "igllm_float_head")
    os.makedirs(out_dir, exist_ok=True)
    for seed, kind in ((1, "linear"), (2, "tanh_mlp_gelu")):
        torch.manual_seed(seed)
        h = head(kind)
        # Inputs like final-normed hidden states (unit RMS), a few rows scaled to reach tanh's flat part.
        x = torch.randn(ROWS, HIDDEN)
        x[:3] *= 4.0
        with torch.no_grad():
            want = h.double()(x.double()).reshape(-1)
        tensors = {"float_head." + k: v.float() for k, v in h.state_dict().items()}
        tensors["hidden"] = x
        tensors["expected"] = want
        write_safetensors(os.path.join(out_dir, kind + ".safetensors"), tensors)
        print(kind, "->", {k: list(v.shape) for k, v in tensors.items()}, "torch", torch.__version__)


if __name__ == "__main__":
    sys.exit(main())
