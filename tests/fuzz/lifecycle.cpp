// The model registry's JSON files: manifests, decision records, registry state.

#include <redflag/lifecycle/model_registry.hpp>

#include "fuzz_support.hpp"

namespace redflag::fuzz {

void lifecycle_json(std::string_view input) {
  const std::string text(input);
  try {
    (void)detail::lifecycle::manifest_from_json(text, "manifest.json");
  } catch (const error&) {
  }
  try {
    (void)detail::lifecycle::decision_from_json(text, "decisions.jsonl");
  } catch (const error&) {
  }
  try {
    (void)detail::lifecycle::state_from_json(text, "registry.json");
  } catch (const error&) {
  }
}

}  // namespace redflag::fuzz
