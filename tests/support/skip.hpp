#pragma once

// A test case that needs something this machine may not have (a dataset in
// REDFLAG_DATA_DIR) says so instead of passing silently: skip() prints
// "SKIPPED: <reason>", and the test program (doctest_main.cpp) then exits 77
// unless a check failed, which CTest reports as a skip (SKIP_RETURN_CODE).
// Such test cases are in the doctest test suite "data", which
// tests/CMakeLists.txt runs as its own CTest test <area>.<component>.data,
// so a skip never hides that the file's other test cases ran and passed.

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

namespace redflag::test {

inline bool& skip_reported() {
  static bool reported = false;
  return reported;
}

inline void skip(const std::string& reason) {
  std::cout << "SKIPPED: " << reason << std::endl;
  skip_reported() = true;
}

#ifdef REDFLAG_DATA_DIR
// The path of `file` in REDFLAG_DATA_DIR, or nullopt after skip() when it is
// not there.
inline std::optional<std::filesystem::path> dataset(const std::string& file) {
  auto path = std::filesystem::path(REDFLAG_DATA_DIR) / file;
  if (std::filesystem::exists(path)) return path;
  skip(path.string() + " not found (REDFLAG_DATA_DIR holds the labelled datasets)");
  return std::nullopt;
}
#endif

}  // namespace redflag::test
