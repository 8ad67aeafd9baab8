#!/usr/bin/env python3
"""Builds tokenizer reference sets with the Hugging Face `tokenizers` library.

For every family of tokenizer.json components Tessera supports, this trains a small tokenizer on a
corpus generated below (multilingual, emoji, whitespace- and digit-heavy), then writes
tests/data/reference/tok_<name>/tokenizer.json and golden.json: a list of
{text, ids, decoded}, where ids = encode(text, add_special_tokens=True) and decoded =
decode(ids, skip_special_tokens=True) — the format `tessera-cli verify` checks.

Dev-time only. Usage (venv outside the repository, see README.md):
    /work/venv-tok/bin/python tools/reference/tokenizers_sets.py [OUT_DIR]
"""
import json
import os
import random
import sys

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

# ---- Corpus -----------------------------------------------------------------------------------------

WORDS = {
    "en": "the a quick brown fox jumps over lazy dog image token model red cube blue sphere light "
          "shadow frame video prompt seed sample render studio layer camera river mountain "
          "don't it's we'll they're I'm you've she'd".split(),
    "de": "Straße Grüße über schön Mädchen Bäume größer Fuß weiß".split(),
    "fr": "café naïve élève à côté déjà être hôtel garçon Noël".split(),
    "es": "niño año mañana corazón canción pingüino".split(),
    "tr": "İstanbul ılık İzmir ışık Iğdır".split(),
    "ru": "привет мир красный куб свет тень видео кадр".split(),
    "el": "γειά σου κόσμε φως σκιά εικόνα".split(),
    "ar": "مرحبا بالعالم صورة ضوء ظل".split(),
    "hi": "नमस्ते दुनिया चित्र प्रकाश छाया".split(),
    "zh": "你好 世界 图像 红色 立方体 光 影子 视频".split(),
    "ja": "こんにちは 世界 画像 テスト カメラ ひかり ラーメン".split(),
    "ko": "안녕하세요 세계 이미지 빛 그림자".split(),
    "th": "สวัสดี โลก ภาพ".split(),
    "emoji": "🚀 ✨ 👍🏽 👨‍👩‍👧 🇯🇵 ❤️ 😀 🎨".split(),
    "sym": "— – … « » “ ” ‘ ’ © ® ™ ½ ² ³ € £ ¥ ﬁ ﬂ Ⅻ ①".split(),
}
ALL_WORDS = [w for ws in WORDS.values() for w in ws]
SPACES = [" ", " ", " ", "  ", "\t", "\n", "\n\n", " \n", "\r\n", "\u3000", "\u00a0"]


def corpus(lines=600, seed=7):
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        parts = []
        for _ in range(rng.randint(3, 14)):
            r = rng.random()
            if r < 0.15:
                parts.append(str(rng.randint(0, 10 ** rng.randint(1, 9))))
            elif r < 0.2:
                parts.append(rng.choice(["2048x2048", "0.77", "3.14159", "1,000,000", "v2.1", "#42", "$19.99"]))
            else:
                parts.append(rng.choice(ALL_WORDS))
            parts.append(rng.choice(SPACES) if rng.random() < 0.3 else " ")
        out.append("".join(parts).rstrip() + rng.choice(["", ".", "!", "?", ","]))
    return out


# Texts the goldens encode: hand-picked edge cases, then generated lines the training never saw.
EDGE_TEXTS = [
    "Hello world",
    "",
    " ",
    "   leading and  double  spaces   ",
    "tabs\tand\nnew\n\nlines\r\nwindows",
    "Token-Shuffle: 2048x2048 @ 0.77!",
    "Numbers 1234567890 and 3.14159, 1,000,000 and ٣٤٥ and ²³",
    "don't WE'LL it's They're I'M",
    "naïve café — 東京 🚀 emoji",
    "e\u0301 vs \u00e9, Å vs \u212b, A\u030a, ﬁne ﬂow ½ Ⅻ Ⅳ ① ②",
    "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ！ Ｅ\u0301",
    "İstanbul ILIK ılık",
    "Straße GRÜSSE ß",
    "привет, МИР! γειά σου ΚΌΣΜΕ",
    "مرحبا بالعالم ١٢٣",
    "नमस्ते दुनिया",
    "你好，世界！这是一个测试。",
    "こんにちは世界、カメラのテストです。ラーメン！",
    "안녕하세요 세계",
    "สวัสดีโลก",
    "👨‍👩‍👧 family 👍🏽 ok ❤️ 🇯🇵",
    "zero\u200bwidth and\u00a0nbsp and\u3000ideographic",
    "control\x01char\x7f and \ufffd replacement",
    "UPPER lower MiXeD",
    "a" * 40,
    "!!!???...,,,;;;",
    "x2 y3 z10 2x 3y",
    "email@example.com https://example.org/path?q=1&r=2",
    "C++ std::vector<int> a[3] = {1, 2, 3};",
]


def golden_texts(extra_seed):
    return EDGE_TEXTS + corpus(12, seed=extra_seed)


# ---- Tokenizer families -----------------------------------------------------------------------------

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                  r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN2_PATTERN = LLAMA3_PATTERN.replace(r"\p{N}{1,3}", r"\p{N}")


def byte_level_bpe(split_pattern, special, normalizer=None, vocab=600):
    tok = Tokenizer(models.BPE())
    if normalizer:
        tok.normalizer = normalizer
    if split_pattern is None:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(split_pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    return tok


def set_gpt2():
    tok = byte_level_bpe(None, ["<|endoftext|>"])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def set_llama3():
    tok = byte_level_bpe(LLAMA3_PATTERN, ["<|begin_of_text|>", "<|end_of_text|>"])
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", bos)])
    return tok


def set_qwen2():
    tok = byte_level_bpe(QWEN2_PATTERN, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], normalizers.NFC())
    return tok


def set_sp_bpe():
    """Llama-2 / SentencePiece-style BPE: Prepend + Replace normalizers, byte fallback."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    bytes_ = [f"<0x{b:02X}>" for b in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=900, special_tokens=["<unk>", "<s>", "</s>"] + bytes_,
                                  limit_alphabet=120, show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return tok


def set_metaspace_unigram():
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.Nmt(), normalizers.NFKC(),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=700, special_tokens=["<unk>", "</s>"], unk_token="<unk>",
                                      show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))])
    return tok


def set_unigram_bytefallback():
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Metaspace(prepend_scheme="first")])
    tok.decoder = decoders.Sequence([decoders.Metaspace(prepend_scheme="first"), decoders.ByteFallback(),
                                     decoders.Fuse()])
    trainer = trainers.UnigramTrainer(vocab_size=500, special_tokens=["<unk>"], unk_token="<unk>",
                                      show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    # The trainer has no byte-fallback option: add the <0xNN> pieces and the flag to the file, then
    # let the library load it back.
    j = json.loads(tok.to_str())
    j["model"]["byte_fallback"] = True
    j["model"]["vocab"] += [[f"<0x{b:02X}>", -30.0] for b in range(256)]
    return Tokenizer.from_str(json.dumps(j))


def precompiled_charsmap():
    """A small SentencePiece charsmap from rules written here: case folding of ASCII and fullwidth
    letters, ligatures, fractions, circled numbers, two multi-character graphemes."""
    import io
    import tempfile

    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    rules = [(f"{c:X}", f"{c + 32:X}") for c in range(0x41, 0x5B)]
    rules += [(f"{c:X}", f"{c - 0xFEE0:X}") for c in range(0xFF01, 0xFF5F)]
    rules += [("FB01", "66 69"), ("FB02", "66 6C"), ("BD", "31 2044 32"), ("2460", "31"), ("2461", "32"),
              ("3000", "20"), ("65 301", "E9"), ("41 30A", "E5"), ("2163", "69 76"), ("DF", "73 73")]
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        f.write("".join(f"{a}\t{b}\n" for a, b in rules))
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus(200)), model_writer=model, vocab_size=400,
                                   normalization_rule_tsv=f.name, minloglevel=3)
    os.unlink(f.name)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def set_unigram_precompiled():
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(precompiled_charsmap()),
                                           normalizers.Replace(Regex(" {2,}"), "▁")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=600, special_tokens=["<unk>"], unk_token="<unk>",
                                      show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    return tok


def set_wordpiece_bert():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=30))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    trainer = trainers.WordPieceTrainer(vocab_size=800, special_tokens=["[UNK]", "[CLS]", "[SEP]", "[PAD]"],
                                        show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    return tok


def set_wordpiece_cased():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(),
                                           normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                                 pre_tokenizers.Digits(individual_digits=True)])
    tok.decoder = decoders.WordPiece(cleanup=False)
    trainer = trainers.WordPieceTrainer(vocab_size=600, special_tokens=["[UNK]"], show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    return tok


def set_wordlevel():
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(behavior="contiguous"),
        pre_tokenizers.Digits(individual_digits=False)])
    tok.decoder = decoders.CTC(pad_token="<pad>", word_delimiter_token="|", cleanup=True)
    trainer = trainers.WordLevelTrainer(vocab_size=400, special_tokens=["<unk>", "<pad>", "|"],
                                        show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.RobertaProcessing(("|", tok.token_to_id("|")), ("<pad>", 1))
    return tok


def set_scripts_bpe():
    """Classic BPE with end-of-word suffix: UnicodeScripts, CharDelimiterSplit, BPEDecoder."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.CharDelimiterSplit(" "), pre_tokenizers.UnicodeScripts(),
        pre_tokenizers.Punctuation(behavior="isolated")])
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<unk>"], end_of_word_suffix="</w>",
                                  show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    return tok


def set_split_behaviors():
    """Split with every behaviour and invert, FixedLength, regex Replace decoder, continuing prefix."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", continuing_subword_prefix="##"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(r"\d+"), "#")])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\s+"), behavior="removed"),
        pre_tokenizers.Split(Regex(r"[,.!?]"), behavior="merged_with_previous"),
        pre_tokenizers.Split(Regex(r"[-@:/]"), behavior="merged_with_next"),
        pre_tokenizers.Split("#", behavior="contiguous"),
        pre_tokenizers.Split(Regex(r"\p{Han}+|\p{Hiragana}+|\p{Katakana}+"), behavior="isolated", invert=True),
        pre_tokenizers.FixedLength(length=6)])
    tok.decoder = decoders.Sequence([decoders.Replace(Regex("##"), ""), decoders.Fuse()])
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<unk>"], continuing_subword_prefix="##",
                                  show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    return tok


def set_added_tokens():
    """Added tokens with every flag, a ByteLevel normalizer, and a Sequence post-processor."""
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.normalizer = normalizers.Sequence([normalizers.Strip(left=False, right=True), normalizers.ByteLevel()])
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(GPT2_PATTERN.replace(r"\s", r"Ġ").replace(" ?", "Ġ?")),
                                             behavior="isolated")
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    from tokenizers import AddedToken
    tok.add_special_tokens([AddedToken("<image>", lstrip=True, rstrip=True, normalized=False)])
    tok.add_tokens([AddedToken("cube", single_word=True, normalized=True),
                    AddedToken("[MASK]", lstrip=True, normalized=False),
                    AddedToken("光", normalized=True)])
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[
            ("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])])
    return tok


ADDED_TEXTS = ["a red cube <image> next", "cubes cube cube. xcube", "say  [MASK] now", "光と影 光",
               "<image><image>cube<image>", "  <image>  [MASK]  "]

SETS = {
    "gpt2_bytelevel": set_gpt2,
    "llama3_split": set_llama3,
    "qwen2_nfc": set_qwen2,
    "sp_bpe_bytefallback": set_sp_bpe,
    "unigram_metaspace": set_metaspace_unigram,
    "unigram_bytefallback": set_unigram_bytefallback,
    "unigram_precompiled": set_unigram_precompiled,
    "wordpiece_bert": set_wordpiece_bert,
    "wordpiece_digits": set_wordpiece_cased,
    "wordlevel_punctuation": set_wordlevel,
    "bpe_scripts_suffix": set_scripts_bpe,
    "bpe_split_behaviors": set_split_behaviors,
    "bpe_added_tokens": set_added_tokens,
}


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "data", "reference")
    for i, (name, build) in enumerate(SETS.items()):
        tok = build()
        texts = golden_texts(100 + i) + (ADDED_TEXTS if name == "bpe_added_tokens" else [])
        golden = []
        for text in texts:
            ids = tok.encode(text, add_special_tokens=True).ids
            golden.append({"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=True)})
        d = os.path.join(out_dir, "tok_" + name)
        os.makedirs(d, exist_ok=True)
        tok.save(os.path.join(d, "tokenizer.json"), pretty=False)
        with open(os.path.join(d, "golden.json"), "w", encoding="utf-8") as f:
            json.dump(golden, f, ensure_ascii=False, indent=0)
            f.write("\n")
        print(f"tok_{name}: vocab {tok.get_vocab_size()}, {len(golden)} texts")


if __name__ == "__main__":
    main()
