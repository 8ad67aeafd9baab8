#!/usr/bin/env python3
"""Reference set for Tessera's training core: a tiny Llama (transformers' LlamaForCausalLM, eager
attention) with fixed weights, its next-token loss on a fixed batch, the gradient of every parameter
from PyTorch autograd, and the weights after 3 torch.optim.AdamW steps on that batch.

Dev time only. Run in a venv outside the repository, e.g.
    python3 -m venv --system-site-packages /work/venv-train      # Debian's python3-torch
    /work/venv-train/bin/pip install "transformers==4.40.2" safetensors
    /work/venv-train/bin/python tools/reference/make_train_tiny.py tests/data/reference/train_tiny

Writes into OUT: config.json and model.safetensors (a normal checkpoint folder, float32), and
expected.safetensors with
    input_ids [B, T] i64, labels [B, T] i64 (-100 = ignored; the model shifts them by one),
    loss [1]                        loss at the initial weights,
    grad.<name>                     d loss / d <name> at the initial weights,
    adamw.losses [3]                the loss before each of the 3 AdamW steps (same batch each step),
    adamw.<name>                    <name> after the 3 steps,
and README.md listing the settings and library versions.
"""
import json
import os
import platform
import sys

import numpy
import safetensors
import torch
import transformers
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

ADAMW = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
STEPS = 3


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(1234)
    cfg = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                      rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False,
                      attention_bias=False, bos_token_id=1, eos_token_id=2, pad_token_id=0,
                      torch_dtype="float32")
    cfg._attn_implementation = "eager"
    model = LlamaForCausalLM(cfg).float()
    # Weights larger than the default init (std 0.02) so that every gradient is far from zero and the
    # nonlinearities are exercised; norms around 1.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))
    model.save_pretrained(out, safe_serialization=True)

    ids = torch.randint(0, cfg.vocab_size, (2, 8), dtype=torch.int64)
    labels = ids.clone()
    labels[1, 5] = -100  # one ignored target

    expected = {"input_ids": ids, "labels": labels}
    model.zero_grad()
    loss = model(input_ids=ids, labels=labels).loss
    loss.backward()
    expected["loss"] = loss.detach().reshape(1).clone()
    for name, p in model.named_parameters():
        expected["grad." + name] = p.grad.detach().clone()

    opt = torch.optim.AdamW(model.parameters(), foreach=False, **ADAMW)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = model(input_ids=ids, labels=labels).loss
        losses.append(loss.item())
        loss.backward()
        opt.step()
    expected["adamw.losses"] = torch.tensor(losses, dtype=torch.float32)
    for name, p in model.named_parameters():
        expected["adamw." + name] = p.detach().clone()
    save_file({k: v.contiguous() for k, v in expected.items()}, os.path.join(out, "expected.safetensors"),
              metadata={"format": "pt"})

    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("# train_tiny\n\n")
        f.write("Made by `tools/reference/make_train_tiny.py` (see its docstring for the contents).\n\n")
        f.write("- model: transformers `LlamaForCausalLM`, eager attention, float32, 2 layers, hidden 16, "
                "4 query heads over 2 kv heads (GQA), head_dim 4, SwiGLU 24, RMSNorm eps 1e-6, RoPE theta 1e4, "
                "vocab 32, untied head; weights N(0, 0.3²), norms 1 + N(0, 0.1²), seed 1234\n")
        f.write("- batch: 2 × 8 token ids; labels = ids with one position ignored (-100); "
                "the model's own shifted next-token cross-entropy (mean over counted targets)\n")
        f.write(f"- optimizer: torch.optim.AdamW(foreach=False, lr={ADAMW['lr']}, betas={ADAMW['betas']}, "
                f"eps={ADAMW['eps']}, weight_decay={ADAMW['weight_decay']}), {STEPS} steps on the same batch\n")
        f.write(f"- versions: python {platform.python_version()}, torch {torch.__version__}, "
                f"transformers {transformers.__version__}, safetensors {safetensors.__version__}, "
                f"numpy {numpy.__version__}\n")
        f.write(f"- initial loss {expected['loss'].item():.6f}; losses over the AdamW steps "
                f"{', '.join(f'{x:.6f}' for x in losses)}\n")
    print(json.dumps({"loss": expected["loss"].item(), "adamw_losses": losses}))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/reference/train_tiny")
