// Internal to providers/bootloader: rewrites a run of whitespace-separated words in place,
// keeping every byte that is not part of a changed word (the user's spacing, the leading and
// trailing whitespace). Shared by the GRUB and /etc/kernel/cmdline editors.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ptrec::bootloader::detail {

/// A word of \a text: text.substr(begin, end - begin). Words are in order and do not overlap.
struct WordSpan {
  size_t begin = 0;
  size_t end = 0;
};

/// The new text of each word: nullopt removes the word, a string replaces its bytes (pass the
/// original bytes to keep it). \a inserts go, each preceded by one space (none before the first
/// word of the result), before word \a insert_at (== words.size(): after the last word, before
/// the trailing whitespace). A kept word keeps the whitespace that preceded it in \a text; the
/// text before the first word and after the last stays as it was. Without words, all of
/// \a text counts as trailing: text "\n" with the insert "a" gives "a\n".
/// Example: text " quiet  splash\n", remove word 0, append "iommu=pt" -> " splash iommu=pt\n".
std::string SpliceWords(std::string_view text, const std::vector<WordSpan>& words,
                        const std::vector<std::optional<std::string>>& replacement,
                        const std::vector<std::string>& inserts, size_t insert_at);

}  // namespace ptrec::bootloader::detail
