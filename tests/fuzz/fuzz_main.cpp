// One libFuzzer program for every target; REDFLAG_FUZZ_TARGET names the one
// to run (`redflag_fuzz -help=1` lists them). One program compiles the
// library's headers once for all targets.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz_support.hpp"

namespace redflag::fuzz {
void isolation_forest(std::string_view);
void random_forest(std::string_view);
void transformer_autoencoder(std::string_view);
void scalers(std::string_view);
void entity_store(std::string_view);
void csv(std::string_view);
void rules(std::string_view);
void lifecycle_json(std::string_view);
void transaction_json(std::string_view);
void portfolio_json(std::string_view);

namespace {
constexpr NamedTarget targets[] = {
    {"isolation_forest", isolation_forest},
    {"random_forest", random_forest},
    {"transformer_autoencoder", transformer_autoencoder},
    {"scalers", scalers},
    {"entity_store", entity_store},
    {"csv", csv},
    {"rules", rules},
    {"lifecycle_json", lifecycle_json},
    {"transaction_json", transaction_json},
    {"portfolio_json", portfolio_json},
};
Target chosen = nullptr;
}  // namespace
}  // namespace redflag::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* name = std::getenv("REDFLAG_FUZZ_TARGET");
  for (const auto& target : redflag::fuzz::targets) {
    if (name != nullptr && target.name == name) redflag::fuzz::chosen = target.run;
  }
  if (redflag::fuzz::chosen == nullptr) {
    std::fprintf(stderr, "redflag_fuzz: set REDFLAG_FUZZ_TARGET to one of:");
    for (const auto& target : redflag::fuzz::targets)
      std::fprintf(stderr, " %.*s", int(target.name.size()), target.name.data());
    std::fprintf(stderr, "\n");
    std::exit(2);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  redflag::fuzz::chosen(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
