// Replay driver for the fuzz targets when libFuzzer is not available (gcc, ordinary builds).
//
// Usage: <target>-replay SEED_DIR [MUTATIONS [DUMP_INDEX DUMP_FILE]]
// Runs every seed, then MUTATIONS deterministic variants of them: bit flips, byte edits, truncations,
// insertions, splices, rewritten length prefixes and swapped JSON tokens. The same seeds always give
// the same inputs, so a failure reproduces: a crash prints the input's index, and DUMP_INDEX/DUMP_FILE
// write that input to a file (for a debugger or a libFuzzer build) instead of running anything.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using Bytes = std::vector<uint8_t>;

// splitmix64: small, fast, and the same on every platform.
struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    size_t below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }
};

// Values that sit on the edges the parsers check.
const char* const kTokens[] = {"-1",
                               "0",
                               "1",
                               "2.5",
                               "1e400",
                               "18446744073709551615",
                               "18446744073709551616",
                               "9223372036854775808",
                               "null",
                               "true",
                               "[]",
                               "{}",
                               "\"\"",
                               "\"F8_E4M3\"",
                               "[1,2]",
                               "[4294967296,4294967296,4294967296]",
                               "\"BF16\"",
                               "\"I64\"",
                               "\"__metadata__\""};

void writeLe64(Bytes& b, uint64_t v) {
    if (b.size() < 8) b.resize(8, 0);
    for (int i = 0; i < 8; ++i) b[static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (8 * i));
}

Bytes mutate(const Bytes& seed, const std::vector<Bytes>& all, Rng& rng) {
    Bytes b = seed;
    const int edits = 1 + static_cast<int>(rng.below(3));
    for (int k = 0; k < edits; ++k) {
        switch (rng.below(8)) {
        case 0: // bit flip
            if (!b.empty()) b[rng.below(b.size())] ^= static_cast<uint8_t>(1u << rng.below(8));
            break;
        case 1: // byte set
            if (!b.empty()) b[rng.below(b.size())] = static_cast<uint8_t>(rng.next());
            break;
        case 2: // truncate
            b.resize(rng.below(b.size() + 1));
            break;
        case 3: { // insert random bytes
            Bytes ins(1 + rng.below(8));
            for (auto& c : ins) c = static_cast<uint8_t>(rng.next());
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(rng.below(b.size() + 1)), ins.begin(),
                     ins.end());
            break;
        }
        case 4: { // length prefix: near the true size, zero, huge
            const uint64_t choices[] = {0,
                                        b.size() >= 8 ? b.size() - 8 : 0,
                                        b.size(),
                                        b.size() + 1,
                                        100ull << 20,
                                        (100ull << 20) + 1,
                                        ~0ull,
                                        rng.next()};
            const uint64_t cur = b.size() >= 8 ? (b[0] | static_cast<uint64_t>(b[1]) << 8) : 0;
            const uint64_t pick = choices[rng.below(std::size(choices))];
            writeLe64(b, rng.below(2) ? pick : cur + rng.below(5) - 2);
            break;
        }
        case 5: { // replace a number or quoted token with an edge value
            size_t pos = rng.below(b.size() + 1);
            while (pos < b.size() && !(b[pos] == '"' || b[pos] == '-' || (b[pos] >= '0' && b[pos] <= '9')))
                ++pos;
            if (pos >= b.size()) break;
            size_t end = pos + 1;
            if (b[pos] == '"') {
                while (end < b.size() && b[end] != '"') ++end;
                if (end < b.size()) ++end;
            } else {
                while (end < b.size() && ((b[end] >= '0' && b[end] <= '9') || b[end] == '.' || b[end] == 'e'))
                    ++end;
            }
            const std::string tok = kTokens[rng.below(std::size(kTokens))];
            b.erase(b.begin() + static_cast<std::ptrdiff_t>(pos),
                    b.begin() + static_cast<std::ptrdiff_t>(end));
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos), tok.begin(), tok.end());
            break;
        }
        case 6: { // splice with another seed
            const Bytes& other = all[rng.below(all.size())];
            const size_t cut = rng.below(b.size() + 1);
            const size_t from = rng.below(other.size() + 1);
            b.resize(cut);
            b.insert(b.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
            break;
        }
        default: { // duplicate a range (repeated keys, nested brackets)
            if (b.empty()) break;
            const size_t a = rng.below(b.size()), n = 1 + rng.below(std::min<size_t>(32, b.size() - a));
            Bytes piece(b.begin() + static_cast<std::ptrdiff_t>(a),
                        b.begin() + static_cast<std::ptrdiff_t>(a + n));
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(a), piece.begin(), piece.end());
            break;
        }
        }
    }
    return b;
}

volatile std::sig_atomic_t g_current = -1;

extern "C" void onFatalSignal(int sig) {
    char msg[96];
    const int n =
        std::snprintf(msg, sizeof msg, "fuzz replay: signal %d on input %ld (dump it with DUMP_INDEX)\n", sig,
                      static_cast<long>(g_current));
    if (n > 0) (void)!::write(2, msg, static_cast<size_t>(n));
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

void run(const Bytes& input) {
    // A copy with no slack after it, so a read one past the end is caught by sanitizer builds.
    std::unique_ptr<uint8_t[]> exact(new uint8_t[input.size() ? input.size() : 1]);
    std::copy(input.begin(), input.end(), exact.get());
    LLVMFuzzerTestOneInput(exact.get(), input.size());
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s SEED_DIR [MUTATIONS]\n", argv[0]);
        return 2;
    }
    const long mutations = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 3000;
    std::vector<std::filesystem::path> paths;
    for (const auto& e : std::filesystem::directory_iterator(argv[1]))
        if (e.is_regular_file()) paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());
    std::vector<Bytes> seeds;
    for (const auto& p : paths) {
        std::ifstream in(p, std::ios::binary);
        seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    if (seeds.empty()) {
        std::fprintf(stderr, "no seeds in %s\n", argv[1]);
        return 2;
    }
    const long dump_index = argc > 4 ? std::strtol(argv[3], nullptr, 10) : -1;
    for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, onFatalSignal);
    // Input numbering: the seeds first, then the mutations.
    long index = 0;
    Rng rng{0x7E55E7A};
    for (long i = 0; i < static_cast<long>(seeds.size()) + mutations; ++i, ++index) {
        Bytes input;
        if (i < static_cast<long>(seeds.size())) {
            input = seeds[static_cast<size_t>(i)];
        } else {
            input = mutate(seeds[rng.below(seeds.size())], seeds, rng);
        }
        if (dump_index >= 0) {
            if (index != dump_index) continue;
            std::ofstream out(argv[4], std::ios::binary);
            out.write(reinterpret_cast<const char*>(input.data()),
                      static_cast<std::streamsize>(input.size()));
            std::printf("input %ld written to %s\n", index, argv[4]);
            return 0;
        }
        g_current = static_cast<std::sig_atomic_t>(index);
        run(input);
    }
    if (dump_index >= 0) {
        std::fprintf(stderr, "no input %ld\n", dump_index);
        return 2;
    }
    std::printf("%zu seeds + %ld mutations: no failure\n", seeds.size(), mutations);
    return 0;
}
