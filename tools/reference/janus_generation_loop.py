#!/usr/bin/env python3
"""Janus-Pro generation-loop golden: guided logits of the first steps, from transformers' own code.

Runs `JanusForConditionalGeneration.generate(..., generation_mode="image")` on a Janus checkpoint folder
(tests/data/reference/janus_tiny) exactly as the library's image-generation path runs it: the prompt
goes through `JanusProcessor.apply_chat_template` (the chat template the library's conversion script
gives the released checkpoints) and `processor(text, generation_mode="image")`; `generate` builds the
conditional/unconditional rows, pads the unconditional one, combines them with its
`ClassifierFreeGuidanceLogitsProcessor` and feeds each token back through the generation embeddings and
aligner. The only things this script adds are a logits processor placed right after the guidance
processor, which records the guided logits (after CFG, before any temperature) and forces the next
token to a fixed sequence, and greedy decoding (so that the forced token is the one taken).

It also records, from the original DeepSeek code (a checkout of the deepseek-ai/Janus repository,
optional):
  - the prompt its conversation template builds (content stripped, whole prompt stripped), for prompts
    where that differs from the transformers template (the empty prompt), with the guided logits that
    transformers' loop gives for that prompt string;
  - the VQ quantiser with `codebook_l2_norm` (the original VectorQuantizer, l2_norm=True) applied to
    transformers' VQ encoder output on the janus_tiny_vq_encode pixels.

Usage (venv outside the repository, see tools/reference/README.md):
  python tools/reference/janus_generation_loop.py \
      --model tests/data/reference/janus_tiny \
      --vq-pixels tests/data/reference/janus_tiny_vq_encode/golden.safetensors \
      --chat-template-from <transformers source>/src/transformers/models/janus/convert_janus_weights_to_hf.py \
      --deepseek <deepseek-ai/Janus checkout> \
      --out tests/data/reference/janus_tiny_genloop
"""

import argparse
import ast
import copy
import hashlib
import importlib.util
import json
import os
import sys

import torch
import transformers
from safetensors.torch import load_file
from transformers import AutoTokenizer, JanusForConditionalGeneration, LogitsProcessor, LogitsProcessorList
from transformers.models.janus.image_processing_pil_janus import JanusImageProcessorPil
from transformers.models.janus.processing_janus import JanusProcessor

STEPS = 8  # guided-logit steps recorded (and tokens forced) per case
SEED = 20261128


def chat_template_from(path):
    """The CHAT_TEMPLATE string of transformers' Janus conversion script, read without running it."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "CHAT_TEMPLATE" for t in node.targets):
            return ast.literal_eval(node.value)
    sys.exit(f"{path}: no CHAT_TEMPLATE assignment")


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


class FrontAppendList(LogitsProcessorList):
    """generate() appends its guidance processor to the list it is given; put it first instead, so the
    processors passed here see the guided logits."""

    def append(self, item):
        self.insert(0, item)


class RecordAndForce(LogitsProcessor):
    def __init__(self, forced, vocab):
        self.forced = forced  # [images][steps]
        self.vocab = vocab
        self.step = 0
        self.guided = []  # [step][image][vocab]

    def __call__(self, input_ids, scores):
        images = len(self.forced)
        assert scores.shape == (images, self.vocab), f"expected guided logits [{images}, {self.vocab}], got {tuple(scores.shape)}"
        self.guided.append(scores.detach().float().clone())
        out = torch.full_like(scores, float("-inf"))
        if self.step < len(self.forced[0]):
            for i in range(images):
                out[i, self.forced[i][self.step]] = 0.0
        else:  # past the forced prefix: greedy on the guided logits
            out = scores
        self.step += 1
        return out


def build_processor(model_dir, chat_template):
    tokenizer = AutoTokenizer.from_pretrained(
        model_dir,
        extra_special_tokens={"image_token": "<image_placeholder>", "boi_token": "<begin_of_image>", "eoi_token": "<end_of_image>"},
    )
    return JanusProcessor(image_processor=JanusImageProcessorPil(), tokenizer=tokenizer, chat_template=chat_template)


def transformers_prompt(processor, prompt):
    messages = [{"role": "user", "content": [{"type": "text", "text": prompt}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True)


def run_case(model, processor, name, prompt, formatted, source, images, cfg, rng):
    tok = processor.tokenizer
    pad_id = tok.convert_tokens_to_ids("<｜▁pad▁｜>")
    boi_id = tok.convert_tokens_to_ids("<begin_of_image>")
    inputs = processor(text=[formatted] * images, generation_mode="image", return_tensors="pt")
    vocab = model.config.vq_config.num_embeddings
    n_tokens = model.model.vision_model.config.num_image_tokens
    forced = torch.randint(0, vocab, (images, STEPS), generator=rng).tolist()
    rec = RecordAndForce(forced, vocab)
    # The released checkpoints' generation_config.json carries these (the conversion script sets the pad
    # id from the vocabulary's <｜▁pad▁｜> and boi_token_id from <begin_of_image>); janus_tiny's does not.
    gen = copy.deepcopy(model.generation_config)
    gen.do_sample = False
    gen.guidance_scale = cfg
    gen.pad_token_id = pad_id
    gen.bos_token_id = tok.bos_token_id
    gen.generation_kwargs = {"boi_token_id": boi_id}
    out = model.generate(**inputs, generation_mode="image", generation_config=gen, logits_processor=FrontAppendList([rec]))
    assert out.shape == (images, n_tokens), out.shape
    assert out[:, :STEPS].tolist() == forced, "forced tokens were not taken"
    ids = inputs["input_ids"][0].tolist()
    uncond = [t if t in (tok.bos_token_id, boi_id) else pad_id for t in ids]
    # Cross-check: the same steps through the model's modules directly (rows written out here, KV cache,
    # generation head, guidance, feedback through generation embeddings + aligner) agree with what
    # generate() recorded, so the recording sits where it should (after guidance, before sampling).
    worst = 0.0
    with torch.no_grad():
        rows = torch.tensor([ids] * images + [uncond] * images)
        lm_out = model.model.language_model(inputs_embeds=model.get_input_embeddings()(rows), use_cache=True)
        for s in range(STEPS):
            head = model.model.generation_head(lm_out.last_hidden_state[:, -1, :])
            guided = head[images:] + cfg * (head[:images] - head[images:])
            diff = (guided - rec.guided[s]).abs().max().item()
            assert diff < 1e-5, f"{name}: step {s} differs from generate() by {diff}"
            worst = max(worst, diff)
            nxt = torch.tensor([f[s] for f in forced] * 2).unsqueeze(-1)
            lm_out = model.model.language_model(
                inputs_embeds=model.prepare_embeddings_for_image_generation(nxt),
                past_key_values=lm_out.past_key_values,
                use_cache=True,
            )
    print(f"{name}: generate() vs the modules stepped by hand: max |diff| {worst:.3g}")
    return {
        "name": name,
        "prompt": prompt,
        "prompt_source": source,
        "formatted_prompt": formatted,
        "input_ids": ids,
        "uncond_input_ids": uncond,
        "attention_mask": inputs["attention_mask"][0].tolist(),
        "pad_id": pad_id,
        "images": images,
        "cfg": cfg,
        "vocab": vocab,
        "steps": STEPS,
        "forced": forced,
        "tokens": out.tolist(),
        # [step][image * vocab + v]
        "guided_logits": [g.reshape(-1).tolist() for g in rec.guided[:STEPS]],
    }


def vq_l2_case(model, deepseek_dir, pixels_path):
    vq = load_module("deepseek_vq_model", os.path.join(deepseek_dir, "janus", "models", "vq_model.py"))
    codebook = model.model.vqmodel.quantize.embedding.weight.detach()
    quantizer = vq.VectorQuantizer(codebook.shape[0], codebook.shape[1], 0.25, 0.0, True, False).eval()
    with torch.no_grad():
        quantizer.embedding.weight.copy_(codebook)  # the checkpoint's rows, not the init's normalised ones
        pixels = load_file(pixels_path)["pixels"].float()
        vqm = model.model.vqmodel
        pre_quant = vqm.quant_conv(vqm.encoder(pixels))
        z_q, _, (_, _, indices) = quantizer(pre_quant)
    b, _, h, w = pre_quant.shape
    return {
        "pixels_shape": list(pixels.shape),
        "pixels": pixels.reshape(-1).tolist(),
        "pre_quant_shape": list(pre_quant.shape),
        "pre_quant": pre_quant.reshape(-1).tolist(),
        "indices": indices.reshape(b, h * w).tolist(),
        "quantized": z_q.reshape(-1).tolist(),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--chat-template-from", required=True)
    ap.add_argument("--deepseek", help="checkout of the original DeepSeek Janus code (optional)")
    ap.add_argument("--vq-pixels", help="safetensors with `pixels` for the l2-normalised VQ encode case")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    chat_template = chat_template_from(args.chat_template_from)
    processor = build_processor(args.model, chat_template)
    model = JanusForConditionalGeneration.from_pretrained(args.model, dtype=torch.float32).eval()
    rng = torch.Generator().manual_seed(SEED)

    conv = None
    if args.deepseek:
        conv = load_module("deepseek_conversation", os.path.join(args.deepseek, "janus", "utils", "conversation.py"))

    def deepseek_prompt(prompt):
        # VLChatProcessor.apply_sft_template_for_multi_turn_prompts with the "deepseek" template and an
        # empty system prompt, then the image-start tag, as generation_inference.py builds it.
        c = conv.get_conv_template("deepseek")
        c.set_system_message("")
        c.append_message("<|User|>", prompt.strip())
        c.append_message("<|Assistant|>", "")
        return c.get_prompt().strip()

    cases = []
    for name, prompt, images, cfg in [
        ("one_image_cfg5", "a red cube", 1, 5.0),
        ("two_images_cfg3_padded_prompt", "  the cube \n", 2, 3.0),
    ]:
        formatted = transformers_prompt(processor, prompt)
        if conv is not None:
            assert deepseek_prompt(prompt) == formatted, (deepseek_prompt(prompt), formatted)
        cases.append(run_case(model, processor, name, prompt, formatted, "transformers chat template", images, cfg, rng))
    if conv is not None:
        prompt = " \t "
        ds, hf = deepseek_prompt(prompt), transformers_prompt(processor, prompt)
        assert ds != hf, "expected the templates to differ on an empty prompt"
        cases.append(run_case(model, processor, "empty_prompt_deepseek_template", prompt, ds, "deepseek conversation template", 1, 5.0, rng))
        cases[-1]["transformers_formatted_prompt"] = hf

    os.makedirs(args.out, exist_ok=True)
    prov = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "chat_template_sha256": hashlib.sha256(chat_template.encode()).hexdigest(),
        "seed": SEED,
    }
    with open(os.path.join(args.out, "golden.json"), "w", encoding="utf-8") as f:
        json.dump({"provenance": prov, "cases": cases}, f, ensure_ascii=False)
    if conv is not None and args.vq_pixels:
        with open(os.path.join(args.out, "vq_encode_l2.json"), "w", encoding="utf-8") as f:
            json.dump({"provenance": prov, **vq_l2_case(model, args.deepseek, args.vq_pixels)}, f)
    for c in cases:
        print(c["name"], repr(c["formatted_prompt"]), c["input_ids"], "forced", c["forced"])


if __name__ == "__main__":
    main()
