#!/usr/bin/env python3
"""Checks tools/convert_dicode.py on a fabricated release (a development check, not part of CI).

The release is made from reference/dicode_tiny's own tensors re-saved the way DiCoDe ships them: torch
pickles under the official LatentVisualDiffusion names, the tokenizer side in ``pytorch_model.bin``
(wrapped in ``state_dict``), the LLM and the decoder in ``gpt2_large.pt``, plus keys the release has and
Tessera does not use (VAE encoder, quant_conv, the tied lm_head, OpenCLIP weights). The converted
folder must hold the original tensors bit for bit and pass ``tessera-cli verify``; a release missing a
needed tensor, or with one misshapen, must be refused with the key named.

    python3 tools/check_convert_dicode.py --cli build/bin/tessera-cli
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REF = os.path.join(ROOT, "tests", "data", "reference", "dicode_tiny")
CONVERT = os.path.join(HERE, "convert_dicode.py")


def convert(args):
    return subprocess.run([sys.executable, CONVERT] + args, capture_output=True, text=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True, help="tessera-cli to run verify with")
    a = ap.parse_args()
    tensors = load_file(os.path.join(REF, "model.safetensors"))
    tok = {k: v for k, v in tensors.items() if not k.startswith("llm_agent.")}
    llm = {k: v for k, v in tensors.items() if k.startswith("llm_agent.") or k.startswith("model.")}
    # What the release has beyond Tessera's needs.
    g = torch.Generator().manual_seed(1)
    tok["first_stage_model.encoder.conv_in.weight"] = torch.randn(32, 3, 3, 3, generator=g)
    tok["first_stage_model.quant_conv.weight"] = torch.randn(8, 8, 1, 1, generator=g)
    tok["cond_stage_model.model.ln_final.weight"] = torch.randn(32, generator=g)
    tok["embedder.model.visual.proj"] = torch.randn(40, 32, generator=g)
    llm["llm_agent.llm.lm_head.weight"] = tensors["llm_agent.llm.transformer.wte.weight"].clone()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="tessera-dicode-release-") as tmp:
        rel = os.path.join(tmp, "release")
        os.makedirs(rel)
        torch.save({"state_dict": tok}, os.path.join(rel, "pytorch_model.bin"))
        torch.save(llm, os.path.join(rel, "gpt2_large.pt"))
        out = os.path.join(tmp, "converted")
        r = convert(["--config", os.path.join(REF, "config.json"), "--out", out,
                     os.path.join(rel, "pytorch_model.bin"), os.path.join(rel, "gpt2_large.pt"),
                     "--copy", os.path.join(REF, "golden.json"), os.path.join(REF, "golden.safetensors")])
        print(r.stdout, end="")
        print(r.stderr, end="", file=sys.stderr)
        if r.returncode != 0:
            print("FAIL: the conversion failed")
            return 1
        got = load_file(os.path.join(out, "model.safetensors"))
        lost = sorted(set(tensors) - set(got))
        # Schedule buffers other than alphas_cumprod are not Tessera's to load.
        lost = [k for k in lost if "." in k]
        if lost:
            print("FAIL: tensors lost in the conversion: %s" % lost[:5])
            failures += 1
        differ = [k for k in got if k in tensors and not torch.equal(got[k], tensors[k])]
        extra = [k for k in got if k not in tensors]
        if differ or extra:
            print("FAIL: converted tensors differ %s or were added %s" % (differ[:5], extra[:5]))
            failures += 1
        for word in ("cond_stage_model", "embedder", "encoder", "lm_head"):
            if word not in r.stdout:
                print("FAIL: no warning about the unused %s keys" % word)
                failures += 1
        v = subprocess.run([a.cli, "verify", out], capture_output=True, text=True)
        lines = v.stdout.strip().splitlines()
        checks = [x for x in lines if "max|d|" in x]
        print("verify: %d checks, %d passed, overall %s" % (len(checks), sum("PASS" in x for x in checks),
                                                            lines[-1].strip() if lines else v.stderr))
        if v.returncode != 0:
            print(v.stdout, v.stderr)
            print("FAIL: verify of the converted folder")
            failures += 1

        # Refusals: a needed tensor missing, another misshapen.
        broken = dict(llm)
        del broken["llm_agent.video_pos_token.pos_token"]
        broken["model.diffusion_model.out.2.bias"] = torch.zeros(5)
        torch.save(broken, os.path.join(rel, "gpt2_large.pt"))
        tok_only = dict(tok)
        del tok_only["model.diffusion_model.out.2.bias"]
        torch.save({"state_dict": tok_only}, os.path.join(rel, "pytorch_model.bin"))
        r = convert(["--config", os.path.join(REF, "config.json"), "--out", os.path.join(tmp, "refused"),
                     os.path.join(rel, "pytorch_model.bin"), os.path.join(rel, "gpt2_large.pt")])
        print(r.stderr.strip())
        if r.returncode == 0 or "llm_agent.video_pos_token.pos_token" not in r.stderr or \
                "model.diffusion_model.out.2.bias has shape [5]" not in r.stderr:
            print("FAIL: a broken release was not refused with the keys named")
            failures += 1
        if os.path.exists(os.path.join(tmp, "refused", "model.safetensors")):
            print("FAIL: a refused conversion wrote a model")
            failures += 1
    print("check_convert_dicode: %s" % ("all checks passed" if failures == 0 else "%d FAILED" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
