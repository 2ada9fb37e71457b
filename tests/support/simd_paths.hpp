#pragma once

// Runs a check once per instruction-set path this CPU has, the path forced
// for the call, and reports the paths it lacks instead of passing silently.

#include <redflag/simd/path.hpp>

#include <doctest/doctest.h>

namespace redflag::test {

// run(path) on every path this CPU supports; returns how many ran.
template <class Run>
int on_every_path(Run run) {
  int ran = 0;
  for (const simd::Path path : simd::all_paths) {
    if (!simd::supported(path)) {
      MESSAGE("not run on the " << simd::name(path) << " path: this CPU lacks it");
      continue;
    }
    const simd::ScopedPath forced(path);
    CAPTURE(simd::name(path));
    run(path);
    ++ran;
  }
  return ran;
}

}  // namespace redflag::test
