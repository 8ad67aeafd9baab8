#!/usr/bin/env python3
"""Reference for Tessera's learning-rate schedule and gradient clipping: the tiny Llama of
tests/data/reference/train_tiny trained on its fixed batch for 6 torch.optim.AdamW steps with
transformers' get_cosine_with_min_lr_schedule_with_warmup (2 warmup steps, min_lr_rate 0.1) and
torch.nn.utils.clip_grad_norm_(max_norm 0.5) before each step.

Dev time only; same venv as make_train_tiny.py:
    /work/venv-train/bin/python tools/reference/make_train_schedule.py tests/data/reference/train_tiny

Writes OUT/schedule.safetensors with
    schedule.lr [6]          the learning rate each step used (the scheduler's value before the step),
    schedule.grad_norm [6]   the global gradient norm clip_grad_norm_ returned (before clipping),
    schedule.losses [6]      the loss before each step,
    schedule.<name>          <name> after the 6 steps,
and appends the settings and versions to OUT/README.md.
"""
import os
import platform
import sys

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import LlamaForCausalLM
from transformers.optimization import get_cosine_with_min_lr_schedule_with_warmup

ADAMW = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
STEPS, WARMUP, MIN_LR_RATE, MAX_NORM = 6, 2, 0.1, 0.5


def main(out):
    model = LlamaForCausalLM.from_pretrained(out, torch_dtype=torch.float32, attn_implementation="eager")
    expected = load_file(os.path.join(out, "expected.safetensors"))
    ids, labels = expected["input_ids"], expected["labels"]
    opt = torch.optim.AdamW(model.parameters(), foreach=False, **ADAMW)
    sched = get_cosine_with_min_lr_schedule_with_warmup(opt, WARMUP, STEPS, min_lr_rate=MIN_LR_RATE)
    lrs, norms, losses = [], [], []
    for _ in range(STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = model(input_ids=ids, labels=labels).loss
        losses.append(loss.item())
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)))
        opt.step()
        sched.step()
    result = {"schedule.lr": torch.tensor(lrs, dtype=torch.float32),
              "schedule.grad_norm": torch.tensor(norms, dtype=torch.float32),
              "schedule.losses": torch.tensor(losses, dtype=torch.float32)}
    for name, p in model.named_parameters():
        result["schedule." + name] = p.detach().clone()
    save_file({k: v.contiguous() for k, v in result.items()}, os.path.join(out, "schedule.safetensors"),
              metadata={"format": "pt"})
    with open(os.path.join(out, "README.md"), "a") as f:
        f.write("\n## schedule.safetensors\n\nMade by `tools/reference/make_train_schedule.py`: the same model "
                f"and batch, torch.optim.AdamW({ADAMW}), transformers "
                f"get_cosine_with_min_lr_schedule_with_warmup(warmup {WARMUP}, total {STEPS}, "
                f"min_lr_rate {MIN_LR_RATE}), torch.nn.utils.clip_grad_norm_(max_norm {MAX_NORM}) before each "
                f"step; versions: python {platform.python_version()}, torch {torch.__version__}, "
                f"transformers {transformers.__version__}\n")
        f.write(f"- lr per step {', '.join(f'{x:.6g}' for x in lrs)}\n")
        f.write(f"- gradient norm per step {', '.join(f'{x:.6g}' for x in norms)}\n")
        f.write(f"- losses {', '.join(f'{x:.6f}' for x in losses)}\n")
    print({"lr": lrs, "grad_norm": norms, "losses": losses})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/reference/train_tiny")
