#!/usr/bin/env python3
"""TorchScript files made from the official Cosmos-Tokenizer modules, to try tools/convert_cosmos.py.

The official release files (encoder.jit, decoder.jit) cannot be downloaded here; this makes files of the
same kind: it builds `CausalDiscreteVideoTokenizer` from an NVIDIA/Cosmos-Tokenizer checkout (imported,
not copied) and traces `encoder_jit()` / `decoder_jit()` into OUT/encoder.jit and OUT/decoder.jit, as
the release's files were made (scripting fails on einops; tracing is what loads).

  --tiny DIR      the cosmos_tiny reference set's config and weights (DIR = tests/data/reference/
                  cosmos_tiny); its goldens then check the converted folder
  --real T H W    the released DV4x8x8 widths (channels 128, 112 M parameters) with PyTorch's default
                  random init (seed 7); also writes OUT/golden.safetensors computed by the official
                  modules for a T×H×W latent grid (FSQ, decode, first-frame decode, encode), in the
                  cosmos reference-set layout `tessera-cli verify` reads

Then:
  python3 tools/convert_cosmos.py OUT CONVERTED
  cp OUT/golden.safetensors CONVERTED/   (or, for --tiny, DIR/golden.*)
  tessera-cli verify CONVERTED

Needs PyTorch, einops and loguru (the checkout's imports), e.g. a venv with system site packages over
Debian's python3-torch: `pip install einops loguru`.
"""

import argparse
import json
import struct
import sys

import numpy as np
import torch


def read_safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8 : 8 + n])
    dt = {"F32": np.float32, "I64": np.int64}
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(b[8 + n + s : 8 + n + e], dtype=dt[v["dtype"]]).reshape(v["shape"]).copy())
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for k in sorted(tensors):
        a = tensors[k].contiguous().numpy()
        raw = a.tobytes()
        header[k] = {"dtype": "I64" if a.dtype == np.int64 else "F32", "shape": list(a.shape),
                     "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--official", required=True, help="NVIDIA/Cosmos-Tokenizer checkout")
    ap.add_argument("--out", required=True)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--tiny", metavar="DIR")
    mode.add_argument("--real", nargs=3, type=int, metavar=("T", "H", "W"))
    args = ap.parse_args()
    sys.path.insert(0, args.official)
    from cosmos_tokenizer.networks.configs import discrete_video
    from cosmos_tokenizer.networks.discrete_video import CausalDiscreteVideoTokenizer

    if args.tiny:
        cfg = json.load(open(f"{args.tiny}/config.json"))
        for k in ("derived", "official_full_size_differs_in"):
            cfg.pop(k, None)
        model = CausalDiscreteVideoTokenizer(**cfg)
        model.load_state_dict(read_safetensors(f"{args.tiny}/model.safetensors"), strict=False)
        gold = read_safetensors(f"{args.tiny}/golden.safetensors")
        indices, video = gold["decode_indices"], gold["encode_video"]
    else:
        torch.manual_seed(7)
        # Lumos-1's settings: TokenizerConfigs['DV'] with spatial 8, temporal 4.
        model = CausalDiscreteVideoTokenizer(**dict(discrete_video, spatial_compression=8, temporal_compression=4))
        t, h, w = args.real
        f = 1 + 4 * (t - 1)
        indices = torch.randint(0, 64000, (1, t, h, w))
        tt = torch.linspace(0, 1, f).view(1, 1, f, 1, 1)
        yy = torch.linspace(0, 1, 8 * h).view(1, 1, 1, -1, 1)
        xx = torch.linspace(0, 1, 8 * w).view(1, 1, 1, 1, -1)
        ch = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1, 1)
        video = (0.7 * torch.sin(6.28 * (ch * yy + 1.5 * xx) + 2 * tt * ch) + 0.2 * torch.cos(9 * xx * yy - tt)).float()
    model = model.to(dtype=torch.float32).eval()  # the keyword form also sets the FSQ output dtype

    with torch.no_grad():
        dec = torch.jit.trace(model.decoder_jit(), indices)
        enc = torch.jit.trace(model.encoder_jit(), video)
        dec.save(f"{args.out}/decoder.jit")
        enc.save(f"{args.out}/encoder.jit")
        print("traced decoder reproduces the module:", torch.equal(dec(indices), model.decoder_jit()(indices)))
        if args.real:
            q = model.quantizer
            g = {"decode_indices": indices, "encode_video": video, "fsq_indices": torch.randint(0, 64000, (16,))}
            g["fsq_codes"] = q.indices_to_codes(g["fsq_indices"]).float()
            g["fsq_codes_to_indices"] = q.codes_to_indices(g["fsq_codes"]).long()
            g["fsq_z"] = torch.randn(1, 16, 6) * 1.5
            g["fsq_z_codes"] = q.quantize(g["fsq_z"]).float()
            g["fsq_z_indices"] = q.codes_to_indices(g["fsq_z_codes"]).long()
            g["decode_video"] = model.decoder_jit()(indices).float()
            g["decode_first_frame_video"] = model.decoder_jit()(indices[:, :1]).float()
            g["encode_indices"] = model.encoder_jit()(video)[0].long()
            g["encode_first_frame_indices"] = model.encoder_jit()(video[:, :, :1])[0].long()
            b = q.bound(model.quant_conv(model.encoder(video)).permute(0, 2, 3, 4, 1))
            print("encode: smallest distance of bound(z) to a rounding boundary",
                  (b - b.round()).abs().sub(0.5).abs().min().item())
            write_safetensors(f"{args.out}/golden.safetensors", g)


if __name__ == "__main__":
    main()
