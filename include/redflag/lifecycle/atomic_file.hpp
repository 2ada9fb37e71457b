#pragma once

// write_file_atomically moved to core (redflag::save uses it); this header
// keeps existing includes working.

#include <redflag/core/atomic_file.hpp>
