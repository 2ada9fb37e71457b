// CSV text as the CLI and the examples read it. The first byte picks the
// options (delimiter, non-finite cells, a label column, float or double).

#include <redflag/io/csv.hpp>

#include "fuzz_support.hpp"

namespace redflag::fuzz {

void csv(std::string_view input) {
  if (input.empty()) return;
  const auto choice = static_cast<unsigned char>(input[0]);
  CsvOptions options;
  options.delimiter = ",;\t|"[choice & 3];
  options.allow_non_finite = (choice & 4) != 0;
  if ((choice & 8) != 0) options.label_column = "label";
  if ((choice & 16) != 0) options.drop = {"x1"};
  const std::string_view text = input.substr(1);
  try {
    if ((choice & 32) != 0) (void)parse_csv<float>(text, options);
    else (void)parse_csv<double>(text, options);
  } catch (const error&) {
  }
}

}  // namespace redflag::fuzz
