#include "providers/bootloader/word_splice.h"

namespace ptrec::bootloader::detail {

std::string SpliceWords(std::string_view text, const std::vector<WordSpan>& words,
                        const std::vector<std::optional<std::string>>& replacement,
                        const std::vector<std::string>& inserts, size_t insert_at) {
  const size_t n = words.size();
  // Without words, all of \a text counts as trailing: "\n" + insert "a" gives "a\n".
  const size_t lead_end = n == 0 ? 0 : words.front().begin;
  const size_t trail_begin = n == 0 ? 0 : words.back().end;
  std::string out(text.substr(0, lead_end));
  bool first = true;
  auto emit = [&](std::string_view separator, std::string_view word) {
    if (!first) out += separator;
    out += word;
    first = false;
  };
  for (size_t k = 0; k <= n; ++k) {
    if (k == insert_at) {
      for (const std::string& word : inserts) emit(" ", word);
    }
    if (k == n) break;
    if (!replacement[k]) continue;
    // The whitespace the user had before this word, even when the word before it is gone.
    std::string_view separator =
        k == 0 ? std::string_view(" ")
               : text.substr(words[k - 1].end, words[k].begin - words[k - 1].end);
    emit(separator, *replacement[k]);
  }
  out += text.substr(trail_begin);
  return out;
}

}  // namespace ptrec::bootloader::detail
