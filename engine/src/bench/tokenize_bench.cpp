// Tokenizer throughput on a fixed corpus, optionally against the `tokenizers` library in a child
// Python process (run only when asked; nothing in Tessera needs Python).
#include "tessera/engine/bench.h"
#include "tessera/engine/tokenizer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::bench {
namespace {

// Deterministic paragraphs of ~2 KB: words from several scripts, numbers, emoji, odd whitespace.
std::vector<std::string> makeCorpus(size_t bytes) {
    static const char* const kWords[] = {"the",
                                         "quick",
                                         "brown",
                                         "fox",
                                         "image",
                                         "token",
                                         "studio",
                                         "render",
                                         "don't",
                                         "we'll",
                                         "Grüße",
                                         "Straße",
                                         "café",
                                         "naïve",
                                         "İstanbul",
                                         "привет",
                                         "мир",
                                         "γειά",
                                         "κόσμε",
                                         "مرحبا",
                                         "नमस्ते",
                                         "你好",
                                         "世界",
                                         "图像",
                                         "こんにちは",
                                         "カメラ",
                                         "안녕하세요",
                                         "สวัสดี",
                                         "🚀",
                                         "✨",
                                         "👍🏽",
                                         "👨‍👩‍👧",
                                         "—",
                                         "½",
                                         "2048x2048",
                                         "3.14159",
                                         "1,000,000",
                                         "C++",
                                         "std::vector<int>",
                                         "https://example.org/a?b=1"};
    static const char* const kSpaces[] = {" ", " ", " ", " ", "  ", "\n", "\t", "\n\n", "\u3000"};
    std::mt19937 rng(20240611);
    std::vector<std::string> out;
    size_t total = 0;
    while (total < bytes) {
        std::string p;
        while (p.size() < 2048) {
            const uint32_t r = rng() % 100;
            if (r < 12)
                p += std::to_string(rng() % 1000000);
            else
                p += kWords[rng() % std::size(kWords)];
            p += kSpaces[rng() % std::size(kSpaces)];
        }
        total += p.size();
        out.push_back(std::move(p));
    }
    return out;
}

// Encodes the corpus file with the `tokenizers` library; prints "<mb_per_s> <tokens> <version>".
const char* const kPythonScript = R"PY(
import sys, time, tokenizers
tok = tokenizers.Tokenizer.from_file(sys.argv[1])
paras = open(sys.argv[2], encoding="utf-8").read().split("\x1e")
nbytes = sum(len(p.encode("utf-8")) for p in paras)
best, tokens, start = 0.0, 0, time.perf_counter()
while True:
    t0 = time.perf_counter()
    tokens = sum(len(tok.encode(p, add_special_tokens=False).ids) for p in paras)
    best = max(best, nbytes / 1e6 / (time.perf_counter() - t0))
    if time.perf_counter() - start >= float(sys.argv[3]):
        break
print(best, tokens, tokenizers.__version__)
)PY";

std::string shellQuote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

double round3(double v) {
    return std::round(v * 1000.0) / 1000.0;
}

} // namespace

Expected<nlohmann::ordered_json> runTokenizeBench(const std::string& tokenizer_path, double corpus_mb,
                                                  double seconds, const std::string& python) {
    if (!(corpus_mb > 0 && corpus_mb <= 1024)) return Status::error("corpus size should be 0–1024 MB");
    if (!(seconds > 0 && seconds <= 3600)) return Status::error("seconds should be 0–3600");
    auto tok = Tokenizer::load(tokenizer_path);
    if (!tok) return tok.status();
    const auto corpus = makeCorpus(static_cast<size_t>(corpus_mb * 1e6));
    size_t bytes = 0;
    for (const auto& p : corpus) bytes += p.size();

    using Clock = std::chrono::steady_clock;
    double best = 0;
    size_t tokens = 0;
    int passes = 0;
    for (const auto start = Clock::now();
         passes == 0 || std::chrono::duration<double>(Clock::now() - start).count() < seconds; ++passes) {
        const auto t0 = Clock::now();
        tokens = 0;
        for (const auto& p : corpus) {
            auto ids = tok->tryEncode(p, SpecialTokens::kNone);
            if (!ids) return ids.status();
            tokens += ids->size();
        }
        best = std::max(best, bytes / 1e6 / std::chrono::duration<double>(Clock::now() - t0).count());
    }
    nlohmann::ordered_json j{{"bench", "tokenize"},        {"tokenizer", tokenizer_path},
                             {"corpus_bytes", bytes},      {"paragraphs", corpus.size()},
                             {"passes", passes},           {"tokens", tokens},
                             {"engine_mb_s", round3(best)}};
    if (python.empty()) return j;

    std::error_code ec;
    fs::path file = fs::path(tokenizer_path);
    if (fs::is_directory(file)) file /= "tokenizer.json";
    const fs::path dir = fs::temp_directory_path(ec) / ("tessera-tokbench-" + std::to_string(::getpid()));
    fs::create_directories(dir, ec);
    {
        std::ofstream(dir / "bench.py") << kPythonScript;
        std::ofstream out(dir / "corpus.txt", std::ios::binary);
        for (size_t i = 0; i < corpus.size(); ++i) out << (i ? "\x1e" : "") << corpus[i];
    }
    const std::string cmd =
        "TOKENIZERS_PARALLELISM=false RAYON_NUM_THREADS=1 " + shellQuote(python) + " " +
        shellQuote((dir / "bench.py").string()) + " " + shellQuote(fs::absolute(file).string()) + " " +
        shellQuote((dir / "corpus.txt").string()) + " " + std::to_string(seconds) + " 2>&1";
    std::string output;
    if (FILE* pipe = popen(cmd.c_str(), "r")) {
        char buf[512];
        while (fgets(buf, sizeof buf, pipe)) output += buf;
        if (pclose(pipe) != 0) output = "error: " + output;
    } else {
        output = "error: cannot start " + python;
    }
    fs::remove_all(dir, ec);
    double hf = 0;
    size_t hf_tokens = 0;
    std::string version;
    std::istringstream in(output);
    if (output.rfind("error: ", 0) == 0 || !(in >> hf >> hf_tokens >> version) || hf <= 0) {
        j["hf_error"] = output.substr(0, 400);
        return j;
    }
    j["hf_tokenizers_version"] = version;
    j["hf_mb_s"] = round3(hf);
    j["engine_over_hf"] = round3(best / hf);
    j["same_token_count"] = hf_tokens == tokens;
    return j;
}

} // namespace tessera::bench
