// Oniguruma behind tok::Regex and tok::scriptOf.
#include "tokenizer/regex.h"

#include "tessera/engine/status.h"
#include "tokenizer/unicode.h"

#include <algorithm>
#include <mutex>
#include <oniguruma.h>
#include <string>
#include <vector>

namespace tessera::tok {
namespace {

void initOniguruma() {
    static std::once_flag once;
    std::call_once(once, [] {
        OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
        onig_initialize(encodings, 1);
    });
}

std::string onigMessage(int code, OnigErrorInfo* info) {
    OnigUChar buf[ONIG_MAX_ERROR_MESSAGE_LEN];
    const int n = info ? onig_error_code_to_str(buf, code, info) : onig_error_code_to_str(buf, code);
    return std::string(reinterpret_cast<const char*>(buf), static_cast<size_t>(n > 0 ? n : 0));
}

} // namespace

struct Regex::Compiled {
    OnigRegex regex = nullptr;
    ~Compiled() {
        if (regex) onig_free(regex);
    }
};

Regex Regex::compile(std::string_view pattern) {
    initOniguruma();
    auto c = std::make_shared<Compiled>();
    OnigErrorInfo info{};
    const auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
    const int r = onig_new(&c->regex, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                           ONIG_SYNTAX_ONIGURUMA, &info);
    if (r != ONIG_NORMAL) {
        c->regex = nullptr;
        throw Error("regex \"" + std::string(pattern) + "\": " + onigMessage(r, &info));
    }
    Regex out;
    out.re_ = std::move(c);
    return out;
}

std::vector<std::pair<size_t, size_t>> Regex::findAll(std::string_view text) const {
    // Oniguruma trusts its input to be well-formed; everything here is sanitized, but check anyway.
    TS_CHECK(sanitizeUtf8(text) == text, "regex search on malformed UTF-8");
    std::vector<std::pair<size_t, size_t>> out;
    const auto* begin = reinterpret_cast<const OnigUChar*>(text.data());
    const auto* end = begin + text.size();
    std::unique_ptr<OnigRegion, void (*)(OnigRegion*)> region(onig_region_new(),
                                                              [](OnigRegion* r) { onig_region_free(r, 1); });
    std::unique_ptr<OnigMatchParam, void (*)(OnigMatchParam*)> param(onig_new_match_param(),
                                                                     onig_free_match_param);
    TS_CHECK(region && param, "regex: out of memory");
    onig_initialize_match_param(param.get());
    onig_set_retry_limit_in_match_of_match_param(param.get(), kStepLimit);
    onig_set_retry_limit_in_search_of_match_param(param.get(), kStepLimit);
    size_t from = 0;
    bool have_last = false;
    size_t last_end = 0;
    while (from <= text.size()) {
        onig_region_clear(region.get());
        const int r = onig_search_with_param(re_->regex, begin, end, begin + from, end, region.get(),
                                             ONIG_OPTION_NONE, param.get());
        if (r == ONIG_MISMATCH) break;
        if (r < 0) throw Error("regex search gave up: " + onigMessage(r, nullptr));
        const auto b = static_cast<size_t>(region->beg[0]), e = static_cast<size_t>(region->end[0]);
        if (b == e && have_last && last_end == e) { // no empty match where the last one ended
            from += from < text.size() ? (size_t)ONIGENC_MBC_ENC_LEN(ONIG_ENCODING_UTF8, begin + from) : 1;
            continue;
        }
        out.emplace_back(b, e);
        have_last = true;
        last_end = from = e;
    }
    return out;
}

int scriptOf(char32_t cp) {
    // Script names Oniguruma knows (Unicode 14); each gets its index + 1. Sorted ranges, searched.
    static const char* const kNames =
        "Common Inherited Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah "
        "Batak Bengali "
        "Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian Caucasian_Albanian "
        "Chakma Cham Cherokee Chorasmian Coptic Cuneiform Cypriot Cypro_Minoan Cyrillic Deseret Devanagari "
        "Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic Georgian Glagolitic Gothic "
        "Grantha Greek Gujarati Gunjala_Gondi Gurmukhi Han Hangul Hanifi_Rohingya Hanunoo Hatran Hebrew "
        "Hiragana Imperial_Aramaic Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada "
        "Katakana Kayah_Li Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin Lepcha Limbu "
        "Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean Marchen "
        "Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao "
        "Modi Mongolian Mro Multani Myanmar Nabataean Nandinagari New_Tai_Lue Newa Nko Nushu "
        "Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian Old_Permic "
        "Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Oriya Osage Osmanya Pahawh_Hmong "
        "Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra "
        "Sharada Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri "
        "Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangsa Tangut Telugu Thaana Thai "
        "Tibetan Tifinagh Tirhuta Toto Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Yi Zanabazar_Square";
    struct Range {
        OnigCodePoint lo, hi;
        int script;
    };
    static const std::vector<Range> kRanges = [] {
        initOniguruma();
        std::vector<Range> ranges;
        int index = 0;
        for (std::string_view names(kNames); !names.empty();) {
            const size_t space = names.find(' ');
            std::string name(names.substr(0, space));
            names = space == std::string_view::npos ? std::string_view() : names.substr(space + 1);
            ++index;
            auto* p = reinterpret_cast<OnigUChar*>(name.data());
            const int ctype = ONIGENC_PROPERTY_NAME_TO_CTYPE(ONIG_ENCODING_UTF8, p, p + name.size());
            OnigCodePoint sb_out = 0;
            const OnigCodePoint* list = nullptr;
            if (ctype < 0 ||
                ONIGENC_GET_CTYPE_CODE_RANGE(ONIG_ENCODING_UTF8, static_cast<OnigCtype>(ctype), &sb_out,
                                             &list) != 0 ||
                !list)
                continue;
            for (OnigCodePoint i = 0; i < list[0]; ++i)
                ranges.push_back({list[1 + 2 * i], list[2 + 2 * i], index});
        }
        std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.lo < b.lo; });
        return ranges;
    }();
    auto it = std::upper_bound(kRanges.begin(), kRanges.end(), static_cast<OnigCodePoint>(cp),
                               [](OnigCodePoint c, const Range& r) { return c < r.lo; });
    return it == kRanges.begin() || cp > (it - 1)->hi ? 0 : (it - 1)->script;
}

} // namespace tessera::tok
