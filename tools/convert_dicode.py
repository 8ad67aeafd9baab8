#!/usr/bin/env python3
"""Convert DiCoDe's released checkpoints to the folder Tessera loads.

The release ships PyTorch state dicts of LatentVisualDiffusion (``pytorch_model.bin`` for the
tokenizer side, ``gpt2_large.pt``/``.bin`` with the LLM and the decoder), loaded by the official demos
with ``load_state_dict(..., strict=False)``. Tessera reads one ``model.safetensors`` under the same
official names next to a ``config.json`` in its layout (``tokenizer_model`` = the tokenizer config's
model section, ``llm`` = the agent, GPT-2 and generation configs; see docs/DICODE.md).

    python3 tools/convert_dicode.py --config config.json --out DIR RELEASE_FILE [RELEASE_FILE ...]

Every tensor the engine needs is checked by name and shape against the config (a missing or
misshapen one stops the conversion with the full list); keys the release has and the engine does not
use (the VAE encoder, the OpenCLIP towers, the tied lm_head, unused schedule buffers, ...) are
reported and left out. Later files win where two files hold the same key (reported when the values
differ). Runs where PyTorch is installed; a development tool, never needed at run time.
"""

import argparse
import json
import os
import shutil
import struct
import sys

try:
    import torch
except ImportError:  # pragma: no cover - reported to the user
    sys.exit("convert_dicode.py needs PyTorch (python3 -m venv --system-site-packages, or pip install torch)")


# ---- the tensors the engine binds, from config.json ------------------------------------------------


def _at(prefix, i):
    return "%s.%d" % (prefix, i)


class Expected:
    """Names and shapes the engine binds; `optional` prefixes are kept when present."""

    def __init__(self):
        self.shapes = {}

    def add(self, name, shape):
        self.shapes[name] = tuple(shape)

    def norm(self, p, ch):
        self.add(p + ".weight", [ch])
        self.add(p + ".bias", [ch])

    def weight(self, p, shape, bias=True):
        self.add(p + ".weight", shape)
        if bias:
            self.add(p + ".bias", [shape[0]])

    def conv(self, p, out, inp, k):
        self.weight(p, [out, inp, k, k])

    def unet_res(self, p, inp, out, emb, tconv):
        self.norm(p + ".in_layers.0", inp)
        self.conv(p + ".in_layers.2", out, inp, 3)
        self.weight(p + ".emb_layers.1", [out, emb])
        self.norm(p + ".out_layers.0", out)
        self.conv(p + ".out_layers.3", out, out, 3)
        if inp != out:
            self.conv(p + ".skip_connection", out, inp, 1)
        if tconv:
            for i in range(1, 5):
                c = p + ".temopral_conv.conv%d" % i  # sic: the official attribute name
                self.norm(c + ".0", out)
                self.weight(c + (".2" if i == 1 else ".3"), [out, out, 3, 1, 1])

    def transformer(self, p, ch, inner, ctx, temporal, conv1d, image_tokens):
        self.norm(p + ".norm", ch)
        self.weight(p + ".proj_in", [inner, ch, 1] if conv1d else [inner, ch])
        b = p + ".transformer_blocks.0"
        for a in (1, 2):
            q = b + ".attn%d" % a
            kv = ctx if a == 2 and not temporal else inner
            self.weight(q + ".to_q", [inner, inner], bias=False)
            self.weight(q + ".to_k", [inner, kv], bias=False)
            self.weight(q + ".to_v", [inner, kv], bias=False)
            self.weight(q + ".to_out.0", [inner, inner])
            if a == 2 and not temporal and image_tokens:
                self.weight(q + ".to_k_ip", [inner, kv], bias=False)
                self.weight(q + ".to_v_ip", [inner, kv], bias=False)
                self.add(q + ".alpha", [])
        for n in (".norm1", ".norm2", ".norm3"):
            self.norm(b + n, inner)
        self.weight(b + ".ff.net.0.proj", [8 * inner, inner])
        self.weight(b + ".ff.net.2", [inner, 4 * inner])
        self.weight(p + ".proj_out", [ch, inner, 1] if conv1d else [ch, inner])

    def vae_res(self, p, inp, out):
        self.norm(p + ".norm1", inp)
        self.conv(p + ".conv1", out, inp, 3)
        self.norm(p + ".norm2", out)
        self.conv(p + ".conv2", out, out, 3)
        if inp != out:
            self.conv(p + ".nin_shortcut", out, inp, 1)


def expected_unet(e, u):
    p = "model.diffusion_model"
    mc, ctx, nres, hc = u["model_channels"], u["context_dim"], u["num_res_blocks"], u["num_head_channels"]
    mult, attn = u["channel_mult"], u["attention_resolutions"]
    tconv, tattn = u.get("temporal_conv", False), u.get("temporal_attention", True)
    ip = u.get("image_cross_attention", False)
    emb = 4 * mc

    def attn_layers(q, ch):
        e.transformer(_at(q, 1), ch, ch, ctx, False, False, ip)
        if tattn:
            e.transformer(_at(q, 2), ch, ch, ctx, True, False, False)

    e.weight(p + ".time_embed.0", [emb, mc])
    e.weight(p + ".time_embed.2", [emb, emb])
    if u.get("fs_condition", False):
        e.weight(p + ".fps_embedding.0", [emb, mc])
        e.weight(p + ".fps_embedding.2", [emb, emb])
    e.conv(p + ".input_blocks.0.0", mc, u["in_channels"], 3)
    if u.get("addition_attention", False):
        e.transformer(p + ".init_attn.0", mc, 8 * hc, ctx, True, True, False)
    chans, ch, ds, block = [mc], mc, 1, 1
    for level, m in enumerate(mult):
        for _ in range(nres):
            q = _at(p + ".input_blocks", block)
            e.unet_res(q + ".0", ch, m * mc, emb, tconv)
            ch = m * mc
            if ds in attn:
                attn_layers(q, ch)
            chans.append(ch)
            block += 1
        if level + 1 != len(mult):
            e.conv(_at(p + ".input_blocks", block) + ".0.op", ch, ch, 3)
            block += 1
            chans.append(ch)
            ds *= 2
    e.unet_res(p + ".middle_block.0", ch, ch, emb, tconv)
    attn_layers(p + ".middle_block", ch)
    e.unet_res(_at(p + ".middle_block", 3 if tattn else 2), ch, ch, emb, tconv)
    block = 0
    for level in reversed(range(len(mult))):
        for i in range(nres + 1):
            q = _at(p + ".output_blocks", block)
            ich = chans.pop()
            out = mult[level] * mc
            e.unet_res(q + ".0", ch + ich, out, emb, tconv)
            ch, nxt = out, 1
            if ds in attn:
                attn_layers(q, ch)
                nxt = 3 if tattn else 2
            if level != 0 and i == nres:
                e.conv(_at(q, nxt) + ".conv", ch, ch, 3)
                ds //= 2
            block += 1
    e.norm(p + ".out.0", ch)
    e.conv(p + ".out.2", u["out_channels"], mc, 3)


def expected_vae(e, fsp):
    dd = fsp["ddconfig"]
    ch, z, nres, mult = dd["ch"], dd["z_channels"], dd["num_res_blocks"], dd["ch_mult"]
    d = "first_stage_model.decoder"
    e.conv("first_stage_model.post_quant_conv", z, fsp.get("embed_dim", 4), 1)
    c = ch * mult[-1]
    e.conv(d + ".conv_in", c, z, 3)
    e.vae_res(d + ".mid.block_1", c, c)
    e.norm(d + ".mid.attn_1.norm", c)
    for n in (".q", ".k", ".v", ".proj_out"):
        e.conv(d + ".mid.attn_1" + n, c, c, 1)
    e.vae_res(d + ".mid.block_2", c, c)
    for level in reversed(range(len(mult))):
        out = ch * mult[level]
        for i in range(nres + 1):
            e.vae_res("%s.up.%d.block.%d" % (d, level, i), c, out)
            c = out
        if level != 0:
            e.conv("%s.up.%d.upsample.conv" % (d, level), c, c, 3)
    e.norm(d + ".norm_out", c)
    e.conv(d + ".conv_out", dd["out_ch"], c, 3)


def expected_llm(e, llm):
    g, agent = llm["gpt2"], llm["agent"]
    h, layers, vocab, pos = g["n_embd"], g["n_layer"], g["vocab_size"], g["n_positions"]
    inner = g.get("n_inner") or 4 * h
    t = "llm_agent.llm.transformer"
    e.add(t + ".wte.weight", [vocab, h])
    e.add(t + ".wpe.weight", [pos, h])
    for i in range(layers):
        lp = "%s.h.%d" % (t, i)
        e.norm(lp + ".ln_1", h)
        e.norm(lp + ".ln_2", h)
        # GPT-2's Conv1D stores [in, out].
        for name, shape in ((".attn.c_attn", [h, 3 * h]), (".attn.c_proj", [h, h]), (".mlp.c_fc", [h, inner]),
                            (".mlp.c_proj", [inner, h])):
            e.add(lp + name + ".weight", shape)
            e.add(lp + name + ".bias", [shape[1]])
    e.norm(t + ".ln_f", h)
    n = agent["num_img_tokens"]
    frames = agent["max_length"] // n
    for name in ("input_resampler", "output_resampler"):
        args = agent[name]["_args_"]
        for idx in (0, 2):
            e.weight("llm_agent.%s.%d" % (name, idx), [args[idx]["out_features"], args[idx]["in_features"]])
    e.add("llm_agent.video_pos_token.frame_token", [frames, 1, h])
    e.add("llm_agent.video_pos_token.pos_token", [1, n, h])


# Kept when present, checked by the engine when it loads them: the deep-token Resampler (images to
# tokens), the LLM's frozen target Resampler (teacher forcing) and the schedule buffer the reference
# runner compares.
OPTIONAL_PREFIXES = ("image_proj_model.", "llm_agent.pre_input_resampler.")
OPTIONAL_KEYS = ("alphas_cumprod",)


def expected_tensors(config):
    e = Expected()
    params = config["tokenizer_model"]["params"]
    expected_unet(e, params["unet_config"]["params"])
    expected_vae(e, params["first_stage_config"]["params"])
    if "llm" in config:
        expected_llm(e, config["llm"])
    return e.shapes


# ---- reading the release -----------------------------------------------------------------------


def load_state_dict(path):
    """A release file as {name: tensor}: torch pickles (.pt/.bin/.ckpt, optionally wrapped in
    state_dict/module/model) or safetensors."""
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return dict(load_file(path))
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as exc:  # a corrupt or foreign file: say which
        raise SystemExit("%s: not a PyTorch checkpoint (%s)" % (path, exc))
    for wrapper in ("state_dict", "module", "model"):
        if isinstance(obj, dict) and wrapper in obj and isinstance(obj[wrapper], dict) and not torch.is_tensor(
                obj[wrapper]):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict):
        raise SystemExit("%s: holds a %s, not a state dict" % (path, type(obj).__name__))
    out = {}
    for k, v in obj.items():
        if torch.is_tensor(v):
            out[k[len("module."):] if k.startswith("module.") else k] = v
    if not out:
        raise SystemExit("%s: no tensors in the state dict" % path)
    return out


def group_of(key):
    parts = key.split(".")
    if parts[0] in ("cond_stage_model", "embedder"):
        return parts[0] + ".* (OpenCLIP, not run by Tessera)"
    if key.startswith("first_stage_model.encoder.") or key.startswith("first_stage_model.quant_conv."):
        return "first_stage_model encoder/quant_conv (the VAE encoder)"
    if key == "llm_agent.llm.lm_head.weight":
        return "llm_agent.llm.lm_head (tied to wte; DiCoDe generates no text)"
    if len(parts) == 1:
        return "schedule buffers (Tessera computes the schedule)"
    return ".".join(parts[:2]) + ".*"


# ---- writing ---------------------------------------------------------------------------------------


def write_safetensors(path, tensors):
    """Writes f32/f16/bf16 tensors as safetensors with 64-byte aligned data (the engine maps it)."""
    names = sorted(tensors)
    dtypes = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    header, offset, blobs = {}, 0, []
    for name in names:
        t = tensors[name].contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    header["__metadata__"] = {"format": "pt", "source": "tools/convert_dicode.py"}
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((64 - (8 + len(text)) % 64) % 64)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode("utf-8"))
        for raw in blobs:
            f.write(raw)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("release", nargs="+", help="released checkpoint files (.pt/.bin/.ckpt/.safetensors)")
    ap.add_argument("--config", required=True, help="config.json in Tessera's DiCoDe layout (docs/DICODE.md)")
    ap.add_argument("--out", required=True, help="output folder (created)")
    ap.add_argument("--dtype", choices=("f32", "keep"), default="f32",
                    help="f32 (default): floats widened to f32; keep: as released (f16/bf16)")
    ap.add_argument("--copy", nargs="*", default=[],
                    help="more files to copy into the output folder (tokenizer.json, dicode_constants.safetensors)")
    args = ap.parse_args(argv)

    with open(args.config) as f:
        config = json.load(f)
    try:
        expected = expected_tensors(config)
    except (KeyError, TypeError, IndexError) as exc:
        sys.exit("%s: not a DiCoDe config in Tessera's layout (missing or malformed %s)" % (args.config, exc))

    state, sources = {}, {}
    for path in args.release:
        sd = load_state_dict(path)
        for k, v in sd.items():
            if k in state and (state[k].shape != v.shape or not torch.equal(state[k].float(), v.float())):
                print("note: %s differs between %s and %s; using the latter" % (k, sources[k], path))
            state[k], sources[k] = v, path
        print("read %s: %d tensors" % (path, len(sd)))

    missing = [k for k in expected if k not in state]
    wrong = [(k, tuple(state[k].shape), expected[k]) for k in expected
             if k in state and tuple(state[k].shape) != expected[k]]
    if missing or wrong:
        lines = ["the release lacks tensors Tessera needs for this config:"] if missing else []
        lines += ["  missing %s %s" % (k, list(expected[k])) for k in missing[:40]]
        if len(missing) > 40:
            lines.append("  ... and %d more missing" % (len(missing) - 40))
        lines += ["  %s has shape %s, the config needs %s" % (k, list(s), list(w)) for k, s, w in wrong[:40]]
        sys.exit("error: " + "\n".join(lines))

    out = {}
    for k, v in state.items():
        if k in expected or k in OPTIONAL_KEYS or k.startswith(OPTIONAL_PREFIXES):
            if not v.is_floating_point():
                sys.exit("error: %s is %s, not a float tensor" % (k, v.dtype))
            out[k] = v.float() if args.dtype == "f32" or v.dtype not in (torch.float16, torch.bfloat16) else v
    unused = {}
    for k in state:
        if k not in out:
            unused.setdefault(group_of(k), []).append(k)
    for group in sorted(unused):
        keys = unused[group]
        print("warning: %d key(s) not used by Tessera, left out: %s (e.g. %s)" % (len(keys), group, keys[0]))

    os.makedirs(args.out, exist_ok=True)
    write_safetensors(os.path.join(args.out, "model.safetensors"), out)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
        f.write("\n")
    for extra in args.copy:
        shutil.copy(extra, args.out)
    print("wrote %s: %d tensors (%d needed, %d optional), config.json%s" %
          (args.out, len(out), len(expected), len(out) - len(expected),
           "".join(", " + os.path.basename(x) for x in args.copy)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
