// Parser and writer for the program form of a scene (grammar in docs/scene-programs.md).
// Hand-written: the grammar is a few keyword statements, smaller than any parser-generator setup.
#include "tessera/renderers/scene.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <string>

namespace tessera::renderers {
namespace {

constexpr std::array<std::string_view, 3> kShapeNames{"cube", "sphere", "cylinder"};
constexpr std::array<std::string_view, 8> kColorNames{"gray", "red", "blue", "green",
                                                      "brown", "purple", "cyan", "yellow"};
constexpr std::array<std::string_view, 2> kMaterialNames{"rubber", "metal"};

struct Token {
    std::string_view text;
    std::size_t line = 0;
    std::size_t column = 0;
};

// Splits one line into tokens, dropping a trailing comment.
std::vector<Token> tokenize(std::string_view line, std::size_t line_no) {
    std::vector<Token> tokens;
    std::size_t i = 0;
    while (i < line.size()) {
        char c = line[i];
        if (c == '#') break;
        if (c == ' ' || c == '\t' || c == '\r') { ++i; continue; }
        std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '#') ++i;
        tokens.push_back({line.substr(start, i - start), line_no, start + 1});
    }
    return tokens;
}

std::string quoted(std::string_view text) {
    std::string out = "'";
    for (char c : text.substr(0, 40)) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 15];
        } else {
            out += c;
        }
    }
    if (text.size() > 40) out += "...";
    return out + "'";
}

bool validNumberSyntax(std::string_view s) {
    std::size_t i = 0;
    auto digits = [&] {
        std::size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
        return i > start;
    };
    if (i < s.size() && s[i] == '-') ++i;
    if (!digits()) return false;
    if (i < s.size() && s[i] == '.') { ++i; if (!digits()) return false; }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == s.size();
}

class Parser {
public:
    explicit Parser(std::vector<Token> tokens, std::size_t line) : tokens_(std::move(tokens)), line_(line) {}

    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }
    bool atEnd() const { return pos_ >= tokens_.size(); }
    const Token& peek() const { return tokens_[pos_]; }

    void fail(const Token* at, const std::string& what) {
        if (failed()) return;
        if (at) {
            error_ = "line " + std::to_string(at->line) + ", column " + std::to_string(at->column) + ": " + what;
        } else {
            error_ = "line " + std::to_string(line_) + ", end of line: " + what;
        }
    }

    void keyword(std::string_view word) {
        if (failed()) return;
        if (atEnd()) { fail(nullptr, "expected '" + std::string(word) + "'"); return; }
        const Token& t = tokens_[pos_];
        if (t.text != word) {
            fail(&t, "unexpected " + quoted(t.text) + " (expected '" + std::string(word) + "')");
            return;
        }
        ++pos_;
    }

    double number(std::string_view what, double lo, double hi) {
        if (failed()) return 0;
        if (atEnd()) { fail(nullptr, "expected a number for " + std::string(what)); return 0; }
        const Token& t = tokens_[pos_];
        if (t.text.size() > kMaxNumberChars) {
            fail(&t, "number " + quoted(t.text) + " is longer than " + std::to_string(kMaxNumberChars) + " characters");
            return 0;
        }
        if (!validNumberSyntax(t.text)) {
            fail(&t, "expected a number for " + std::string(what) + ", got " + quoted(t.text));
            return 0;
        }
        double value = 0;
        auto [ptr, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), value);
        if (ec != std::errc() || ptr != t.text.data() + t.text.size() || !std::isfinite(value) || value < lo ||
            value > hi) {
            fail(&t, "number " + quoted(t.text) + " is out of range for " + std::string(what) + " [" +
                         formatRange(lo) + ", " + formatRange(hi) + "]");
            return 0;
        }
        ++pos_;
        return value;
    }

    template <std::size_t N>
    std::size_t choice(const std::array<std::string_view, N>& names, std::string_view what) {
        if (failed()) return 0;
        std::string expected;
        for (std::size_t i = 0; i < N; ++i) {
            if (i) expected += (i + 1 == N) ? " or " : ", ";
            expected += names[i];
        }
        if (atEnd()) { fail(nullptr, "expected a " + std::string(what) + " (" + expected + ")"); return 0; }
        const Token& t = tokens_[pos_];
        for (std::size_t i = 0; i < N; ++i) {
            if (t.text == names[i]) { ++pos_; return i; }
        }
        fail(&t, "unknown " + std::string(what) + " " + quoted(t.text) + " (expected " + expected + ")");
        return 0;
    }

    Vec3 vec3(std::string_view what, double limit) {
        Vec3 v{};
        for (double& x : v) x = number(what, -limit, limit);
        return v;
    }

private:
    static std::string formatRange(double v) {
        char buf[32];
        auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
        return ec == std::errc() ? std::string(buf, ptr) : std::string("?");
    }

    std::vector<Token> tokens_;
    std::size_t line_;
    std::size_t pos_ = 0;
    std::string error_;
};

constexpr double kMaxCoord = 1000;

std::string formatNumber(double v) {
    if (v == 0) v = 0; // writes -0 as 0; both parse to a value equal to 0
    char buf[64];
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, ptr) : std::string("0");
}

} // namespace

double canonicalRotation(const SceneObject& o) {
    if (o.shape != Shape::Cube) return 0;
    double r = std::fmod(o.rotation, 90.0);
    if (r < 0) r += 90.0; // a tiny negative remainder rounds to 90 itself
    return r >= 90.0 ? 0.0 : r;
}

std::string_view shapeName(Shape shape) { return kShapeNames[static_cast<std::size_t>(shape)]; }
std::string_view colorName(Color color) { return kColorNames[static_cast<std::size_t>(color)]; }
std::string_view materialName(Material material) { return kMaterialNames[static_cast<std::size_t>(material)]; }

SceneParseResult parseSceneProgram(std::string_view program) {
    SceneParseResult result;
    if (program.size() > kMaxProgramBytes) {
        result.error = "program is " + std::to_string(program.size()) + " bytes, longer than the limit of " +
                       std::to_string(kMaxProgramBytes);
        return result;
    }
    bool have_camera = false;
    bool have_light = false;
    std::size_t line_no = 0;
    std::size_t start = 0;
    while (start <= program.size()) {
        std::size_t end = program.find('\n', start);
        if (end == std::string_view::npos) end = program.size();
        ++line_no;
        std::vector<Token> tokens = tokenize(program.substr(start, end - start), line_no);
        start = end + 1;
        if (tokens.empty()) continue;
        Parser p(tokens, line_no);
        const Token head = p.peek();
        if (head.text == "camera") {
            p.keyword("camera");
            if (have_camera) p.fail(&head, "a second 'camera' statement (at most one is allowed)");
            Camera& c = result.scene.camera;
            p.keyword("position");
            c.position = p.vec3("camera position", kMaxCoord);
            p.keyword("look_at");
            c.look_at = p.vec3("camera look_at", kMaxCoord);
            p.keyword("fov");
            c.fov = p.number("fov", 1, 170);
            if (!p.failed() && c.position == c.look_at) p.fail(&head, "camera position equals look_at");
            have_camera = true;
        } else if (head.text == "light") {
            p.keyword("light");
            if (have_light) p.fail(&head, "a second 'light' statement (at most one is allowed)");
            Light& l = result.scene.light;
            p.keyword("direction");
            l.direction = p.vec3("light direction", kMaxCoord);
            p.keyword("intensity");
            l.intensity = p.number("intensity", 0, 10);
            p.keyword("ambient");
            l.ambient = p.number("ambient", 0, 10);
            if (!p.failed() && l.direction == Vec3{0, 0, 0}) p.fail(&head, "light direction is the zero vector");
            have_light = true;
        } else if (head.text == "object") {
            p.keyword("object");
            if (result.scene.objects.size() >= kMaxObjects)
                p.fail(&head, "more than " + std::to_string(kMaxObjects) + " objects");
            SceneObject o;
            o.shape = static_cast<Shape>(p.choice(kShapeNames, "shape"));
            o.color = static_cast<Color>(p.choice(kColorNames, "colour"));
            o.material = static_cast<Material>(p.choice(kMaterialNames, "material"));
            p.keyword("size");
            o.size = p.number("size", 0, 100);
            if (!p.failed() && o.size <= 0) p.fail(nullptr, "size must be greater than 0");
            p.keyword("position");
            o.position = p.vec3("object position", kMaxCoord);
            p.keyword("rotation");
            o.rotation = p.number("rotation", -360, 360);
            if (!p.failed()) result.scene.objects.push_back(o);
        } else {
            p.fail(&head, "unknown statement " + quoted(head.text) + " (expected camera, light or object)");
        }
        if (!p.failed() && !p.atEnd()) {
            const Token& extra = p.peek();
            p.fail(&extra, "unexpected " + quoted(extra.text) + " after a complete statement");
        }
        if (p.failed()) {
            result.error = p.error();
            return result;
        }
    }
    result.ok = true;
    return result;
}

std::string writeSceneProgram(const Scene& scene) {
    auto vec = [](const Vec3& v) {
        return formatNumber(v[0]) + " " + formatNumber(v[1]) + " " + formatNumber(v[2]);
    };
    std::string out;
    out += "camera position " + vec(scene.camera.position) + " look_at " + vec(scene.camera.look_at) + " fov " +
           formatNumber(scene.camera.fov) + "\n";
    out += "light direction " + vec(scene.light.direction) + " intensity " + formatNumber(scene.light.intensity) +
           " ambient " + formatNumber(scene.light.ambient) + "\n";
    for (const SceneObject& o : scene.objects) {
        out += "object ";
        out += shapeName(o.shape);
        out += " ";
        out += colorName(o.color);
        out += " ";
        out += materialName(o.material);
        out += " size " + formatNumber(o.size) + " position " + vec(o.position) + " rotation " +
               formatNumber(o.rotation) + "\n";
    }
    return out;
}

} // namespace tessera::renderers
