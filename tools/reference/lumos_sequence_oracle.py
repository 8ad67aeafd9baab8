#!/usr/bin/env python3
"""Runs the official Lumos-1 sequence helpers and writes their outputs as JSON test data.

Usage: lumos_sequence_oracle.py LUMOS_CHECKOUT OUT.json

LUMOS_CHECKOUT is a checkout of alibaba-damo-academy/Lumos. Only the functions named below are
executed, each taken out of its file with `ast` (the modules themselves import omegaconf, torchvision
and transformers, which the helpers do not need): `mask_append` and `create_attention_mask_t2v`
(model/utils.py), and the solver methods `mask_history_pattern`, `mask_partial_histroy` and
`uncond_prompt_from_prompt` (inference_solver_vid.py), called with self=None. Needs torch only.
"""
import ast
import json
import subprocess
import sys
from pathlib import Path

import torch


def load_functions(path, names, class_name=None):
    tree = ast.parse(Path(path).read_text())
    body = tree.body
    if class_name:
        body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name).body
    picked = [n for n in body if isinstance(n, ast.FunctionDef) and n.name in names]
    missing = set(names) - {n.name for n in picked}
    if missing:
        sys.exit(f"{path}: functions not found: {sorted(missing)}")
    module = ast.Module(body=picked, type_ignores=[])
    scope = {"torch": torch}
    exec(compile(module, str(path), "exec"), scope)
    return scope


def main():
    root = Path(sys.argv[1])
    out = Path(sys.argv[2])
    src = root / "lumos-1" / "lumos-1"
    utils = load_functions(src / "model" / "utils.py", ["mask_append", "create_attention_mask_t2v", "extract_image_video_masks", "first_media_segment_number",
                                                        "create_bidirectional_mask_video", "create_in_media_segment_mask"])
    solver = load_functions(src / "inference_solver_vid.py",
                            ["mask_history_pattern", "mask_partial_histroy", "uncond_prompt_from_prompt"],
                            class_name="FlexARVidInferenceSolver")
    special = {"image_start_token": 8197, "image_end_token": 8196, "new_line_token": 8803, "sep_token": 8710,
               "video_start_token": 9004, "video_end_token": 9005, "mask_token": 9003}

    # T2V, 64x32 pixels (4x8 latent), prompt ids 5 6 7, 1 s at 2 fps: prefix per the spec, then two
    # frames appended by the official mask_append.
    prefix = [0, 5, 6, 7, 8710, 9004, 8804 + 1, 8804 + 2]
    seq = torch.tensor([prefix], dtype=torch.int64)
    res_tok = torch.tensor([8804 + 32 // 32, 8804 + 64 // 32], dtype=torch.int64)  # [h, w] as the solver builds it
    seq, _ = utils["mask_append"](seq, (64, 32), res_tok, 8, 9003, 8803, 8197, 8196)
    one_frame = seq[0].tolist()
    # Frame 0 given codes 0..31 (as if generated), then frame 1 appended.
    codes = torch.arange(32, dtype=torch.int64) + 65536
    content = (seq[0] == 9003).nonzero().flatten()
    seq[0, content] = codes
    seq, _ = utils["mask_append"](seq, (64, 32), res_tok, 8, 9003, 8803, 8197, 8196)
    att = utils["create_attention_mask_t2v"](seq, special, pad_id=0, rm_pad_in_image=False, return_inverse_mask=True)
    uncond, uncond_mask, uncond_att = solver["uncond_prompt_from_prompt"](None, seq, att, 9004, 9003)
    allowed = (att[0, 0] == 0).to(torch.int64)  # inverse mask: 0 where attention is allowed

    # Committed frame 0 with the evaluation scripts' mask_history_ratio 0.7.
    starts = (seq[0] == 8197).nonzero().flatten().tolist()
    frame0 = seq[:, starts[0]:starts[1]]
    pattern = solver["mask_history_pattern"](None, frame0.shape[-1] - 4, "cpu", 0.7)
    committed, _ = solver["mask_partial_histroy"](None, frame0, 9003, pattern)

    patterns = {}
    for length, ratio in [(36, 0.7), (10, 0.7), (5, 0.5), (1824, 0.7), (4080, 0.7), (57, 0.3)]:
        key = f"{length}:{ratio}"
        patterns[key] = solver["mask_history_pattern"](None, length, "cpu", ratio).tolist()

    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    data = {
        "source": "alibaba-damo-academy/Lumos",
        "commit": commit or "unknown",
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "prefix": prefix,
        "one_frame": one_frame,
        "two_frames": seq[0].tolist(),
        "uncond": uncond[0].tolist(),
        "allowed": allowed.flatten().tolist(),
        "committed_frame0": committed[0].tolist(),
        "history_patterns": patterns,
    }
    out.write_text(json.dumps(data) + "\n")


if __name__ == "__main__":
    main()
