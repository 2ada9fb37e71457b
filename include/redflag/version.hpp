#pragma once

#include <string_view>

#define REDFLAG_VERSION_MAJOR 0
#define REDFLAG_VERSION_MINOR 1
#define REDFLAG_VERSION_PATCH 0

namespace redflag {

inline constexpr int version_major = REDFLAG_VERSION_MAJOR;
inline constexpr int version_minor = REDFLAG_VERSION_MINOR;
inline constexpr int version_patch = REDFLAG_VERSION_PATCH;
inline constexpr std::string_view version_string = "0.1.0";

}  // namespace redflag
