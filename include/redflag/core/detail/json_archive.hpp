#pragma once

// redflag's JSON archives for cereal, paired: JsonInputArchive reads what
// JsonOutputArchive writes, which is what cereal's own JSON archives write.
// Neither uses RapidJSON (see json_input_archive.hpp, json_output_archive.hpp).

#include <redflag/core/detail/json_input_archive.hpp>
#include <redflag/core/detail/json_output_archive.hpp>

#include <cereal/cereal.hpp>

CEREAL_REGISTER_ARCHIVE(redflag::detail::JsonInputArchive)
CEREAL_REGISTER_ARCHIVE(redflag::detail::JsonOutputArchive)
CEREAL_SETUP_ARCHIVE_TRAITS(redflag::detail::JsonInputArchive, redflag::detail::JsonOutputArchive)
