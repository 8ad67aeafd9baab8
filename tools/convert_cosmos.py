#!/usr/bin/env python3
"""Convert an official Cosmos discrete video tokenizer release (TorchScript) to Tessera's format.

The release (e.g. Cosmos-0.1-Tokenizer-DV4x8x8, the tokenizer Lumos-1 generates in) ships
`encoder.jit` and `decoder.jit` (and `autoencoder.jit`): TorchScript files whose state dicts hold the
weights under the official parameter names. This script writes, into OUT_DIR:

  model.safetensors  the tensors named `encoder.*`, `quant_conv.*`, `post_quant_conv.*`, `decoder.*`
                     exactly as in the release (no renaming, no re-layout), float32 by default;
                     buffers the modules rebuild (Haar filters, FSQ tables) are left out
  config.json        the official DV hyper-parameters, with the widths read off the weights and the
                     compressions from the options (the release's name says them: DV4x8x8 = temporal 4,
                     spatial 8)

Tessera loads the folder with CosmosTokenizer::load (engine/include/tessera/engine/cosmos.h); see the
"Cosmos video tokenizer" section of engine/README.md.

Usage:
  python3 tools/convert_cosmos.py pretrained_ckpts/Cosmos-0.1-Tokenizer-DV4x8x8 out/cosmos-dv4x8x8
  python3 tools/convert_cosmos.py --decoder path/decoder.jit out/dir        # decoding only
Options: --encoder/--decoder name the files one by one; --temporal-compression (4) and
--spatial-compression (8); --levels (default: the quantiser's levels when the file carries them, else 8,8,8,5,5,5, the FSQ
of every DV release);
--dtype float32|bfloat16|keep (float32: the engine computes in float32 anyway).

Needs PyTorch (any version that loads the release, 1.13 or later) and nothing else: the safetensors
file is written directly (8-byte little-endian header length, JSON header, raw little-endian data).
Dev-time only: nothing in Tessera's build or runtime runs Python.
"""

import argparse
import json
import os
import struct
import sys

PREFIXES = ("encoder.", "quant_conv.", "post_quant_conv.", "decoder.")

# The official `discrete_video` kwargs (cosmos_tokenizer/networks/configs.py) that the weights do not
# determine. The widths (channels, channels_mult, num_res_blocks, z_channels, embedding_dim, patch_size)
# are read off the tensors below.
BASE_CONFIG = {
    "attn_resolutions": [32],
    "dropout": 0.0,
    "in_channels": 3,
    "out_channels": 3,
    "resolution": 1024,
    "patch_method": "haar",
    "z_factor": 1,
    "num_groups": 1,
    "legacy_mode": False,
    "quantizer": "FSQ",
    "encoder": "FACTORIZED",
    "decoder": "FACTORIZED",
    "name": "DV",
}


def fail(msg):
    print("convert_cosmos: " + msg, file=sys.stderr)
    sys.exit(1)


def load_state(path):
    import torch

    try:
        module = torch.jit.load(path, map_location="cpu")
    except Exception as e:  # a broken or non-TorchScript file
        fail(f"{path}: not a TorchScript file torch can load ({e})")
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def collect(paths):
    """The weights under the official names, plus the FSQ levels when a file carries them."""
    tensors, ignored, levels = {}, [], None
    for path in paths:
        for name, t in load_state(path).items():
            # Buffers the modules rebuild themselves (Haar filters, FSQ tables) come along in the state
            # dicts of traced files; only the quantiser's levels are worth reading.
            if name.endswith("quantizer._levels"):
                levels = [int(v) for v in t.tolist()]
            if not name.startswith(PREFIXES) or not name.endswith((".weight", ".bias")):
                ignored.append(name)
                continue
            if name in tensors and not tensors[name].equal(t):
                fail(f"{name} differs between the files given")
            tensors[name] = t
    return tensors, ignored, levels


def shape(tensors, name):
    if name not in tensors:
        fail(f"tensor {name} missing: is this a Cosmos discrete video (DV) tokenizer release?")
    return list(tensors[name].shape)


def derive_config(tensors, args, file_levels):
    cfg = dict(BASE_CONFIG)
    levels = [int(v) for v in args.levels.split(",")] if args.levels else (file_levels or [8, 8, 8, 5, 5, 5])
    if args.levels and file_levels and levels != file_levels:
        fail(f"--levels {levels} differs from the levels the release carries, {file_levels}")
    pq = shape(tensors, "post_quant_conv.conv3d.weight")  # [z, embedding_dim, 1, 1, 1]
    cfg["z_channels"], cfg["embedding_dim"] = pq[0], pq[1]
    if cfg["embedding_dim"] != len(levels):
        fail(f"the latent has {cfg['embedding_dim']} dimensions but --levels gives {len(levels)}")
    cfg["levels"] = levels
    out = shape(tensors, "decoder.conv_out.1.conv3d.weight")[0]  # out_channels * patch^3
    patch = round((out / cfg["out_channels"]) ** (1 / 3))
    if cfg["out_channels"] * patch**3 != out:
        fail(f"decoder.conv_out has {out} channels, not 3·p³ for a patch size p")
    cfg["patch_size"] = patch
    nlev = 0
    while f"decoder.up.{nlev}.block.0.conv1.0.conv3d.weight" in tensors:
        nlev += 1
    if nlev == 0:
        fail("no decoder.up.N levels found")
    blocks = 0
    while f"decoder.up.0.block.{blocks}.conv1.0.conv3d.weight" in tensors:
        blocks += 1
    cfg["num_res_blocks"] = blocks - 1  # the decoder runs num_res_blocks + 1 per level
    widths = [shape(tensors, f"decoder.up.{i}.block.0.conv1.0.conv3d.weight")[0] for i in range(nlev)]
    if "encoder.conv_in.0.conv3d.weight" in tensors:
        channels = shape(tensors, "encoder.conv_in.0.conv3d.weight")[0]
    else:  # decoder only: the first level's multiplier is 2 in every DV release
        channels = widths[0] // 2
    if any(w % channels for w in widths):
        fail(f"level widths {widths} are not multiples of channels {channels}")
    cfg["channels"] = channels
    cfg["channels_mult"] = [w // channels for w in widths]
    cfg["spatial_compression"] = args.spatial_compression
    cfg["temporal_compression"] = args.temporal_compression
    return cfg


def write_safetensors(path, tensors, dtype):
    import torch

    names = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        if dtype != "keep":
            t = t.to(torch.float32 if dtype == "float32" else torch.bfloat16)
        if t.dtype not in names:
            fail(f"{name} has dtype {t.dtype}; expected a floating-point weight")
        t = t.contiguous()
        # bf16 has no numpy dtype: move the raw 16-bit words.
        raw = (t.view(torch.int16) if t.element_size() == 2 else t).numpy().tobytes()
        if sys.byteorder != "little":
            fail("big-endian hosts are not supported")
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt", "source": "Cosmos tokenizer TorchScript release"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", nargs="?", help="release folder with encoder.jit / decoder.jit (or autoencoder.jit)")
    ap.add_argument("out", help="output folder (created)")
    ap.add_argument("--encoder", help="encoder.jit (instead of SRC)")
    ap.add_argument("--decoder", help="decoder.jit (instead of SRC)")
    ap.add_argument("--temporal-compression", type=int, default=4)
    ap.add_argument("--spatial-compression", type=int, default=8)
    ap.add_argument("--levels", help="FSQ levels, e.g. 8,8,8,5,5,5 (default: read from the file, else that)")
    ap.add_argument("--dtype", choices=["float32", "bfloat16", "keep"], default="float32")
    args = ap.parse_args()

    paths = [p for p in (args.encoder, args.decoder) if p]
    if args.src:
        for name in ("encoder.jit", "decoder.jit"):
            if os.path.exists(os.path.join(args.src, name)):
                paths.append(os.path.join(args.src, name))
        if not paths and os.path.exists(os.path.join(args.src, "autoencoder.jit")):
            paths.append(os.path.join(args.src, "autoencoder.jit"))
    if not paths:
        fail("no encoder.jit, decoder.jit or autoencoder.jit given")
    tensors, ignored, file_levels = collect(paths)
    if not any(k.startswith("decoder.") for k in tensors):
        fail("no decoder tensors: Tessera needs decoder.jit (or autoencoder.jit)")
    cfg = derive_config(tensors, args, file_levels)
    os.makedirs(args.out, exist_ok=True)
    write_safetensors(os.path.join(args.out, "model.safetensors"), tensors, args.dtype)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    has_encoder = any(k.startswith("encoder.") for k in tensors)
    print(f"wrote {len(tensors)} tensors ({'encoder and decoder' if has_encoder else 'decoder only'}) "
          f"and config.json to {args.out}")
    print(f"  channels {cfg['channels']} x {cfg['channels_mult']}, {cfg['num_res_blocks']} res blocks, "
          f"z {cfg['z_channels']}, FSQ {cfg['levels']}, patch {cfg['patch_size']}, "
          f"compression {cfg['temporal_compression']}x{cfg['spatial_compression']}x{cfg['spatial_compression']}")
    if ignored:
        print(f"  ignored {len(ignored)} tensors outside encoder/decoder/quant convs: {', '.join(ignored[:5])}"
              + (" ..." if len(ignored) > 5 else ""))


if __name__ == "__main__":
    main()
