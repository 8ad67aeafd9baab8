// Full-text search (FTS5) over prompts, tags and notes of generations.
#include "project_impl.h"

#include <cctype>

namespace tessera::projects {

using detail::Stmt;

namespace {

// Turns free text into an FTS5 query that cannot be a syntax error: every word quoted, joined by AND
// (implicit). A trailing '*' on a word keeps prefix search.
std::string quoteWords(const std::string& text) {
    std::string out, word;
    auto flush = [&] {
        if (word.empty()) return;
        bool prefix = word.back() == '*';
        if (prefix) word.pop_back();
        if (!word.empty()) {
            std::string q = "\"";
            for (char c : word) q += c == '"' ? std::string("\"\"") : std::string(1, c);
            q += "\"";
            if (prefix) q += "*";
            if (!out.empty()) out += " ";
            out += q;
        }
        word.clear();
    };
    for (char c : text) {
        if (std::isspace(static_cast<unsigned char>(c)))
            flush();
        else
            word += c;
    }
    flush();
    return out;
}

std::vector<SearchHit> runSearch(detail::Db& db, const std::string& fts_query, int limit) {
    Stmt s = db.prepare(
        "SELECT s.rowid, g.prompt, snippet(search_index, -1, '[', ']', '...', 12), bm25(search_index) "
        "FROM search_index s JOIN generations g ON g.id = s.rowid "
        "WHERE search_index MATCH ? ORDER BY bm25(search_index), s.rowid DESC LIMIT ?");
    s.bind(1, fts_query).bind(2, limit);
    std::vector<SearchHit> out;
    while (s.step()) out.push_back({s.i64(0), s.text(1), s.text(2), s.f64(3)});
    return out;
}

} // namespace

Result<std::vector<SearchHit>> Project::search(const std::string& query, int limit) {
    return detail::guardResult<std::vector<SearchHit>>("searching", [&] {
        std::string quoted = quoteWords(query);
        if (quoted.empty()) return std::vector<SearchHit>();
        return impl_->db->read([&] {
            try {
                return runSearch(*impl_->db, query, limit);
            } catch (const detail::DbError& e) {
                if (e.busy()) throw;
                // Not valid FTS5 syntax (e.g. an unbalanced quote): search the words themselves.
                return runSearch(*impl_->db, quoted, limit);
            }
        });
    });
}

} // namespace tessera::projects
