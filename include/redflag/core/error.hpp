#pragma once

// The exception hierarchy. Every error redflag throws derives from
// redflag::error, and every message starts with the place it came from
// ("redflag::StandardScaler::transform: ...") so a log line is enough to act on.

#include <stdexcept>
#include <string>
#include <string_view>

namespace redflag {

class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A parameter or argument outside its allowed range.
class invalid_argument : public error {
 public:
  using error::error;
};

// Input whose columns (count, names or kinds) differ from what a model was fitted on.
class schema_mismatch : public error {
 public:
  using error::error;
};

// A model used before fit(), or asked for something its fit did not
// compute (RandomForest::oob_score without oob_score = true).
class not_fitted : public error {
 public:
  using error::error;
};

// Training that failed on valid parameters and data: a loss that became NaN
// or infinite. Unlike invalid_argument, retrying with the same settings
// fails again only because of the data's scale; lower the learning rate.
class training_error : public error {
 public:
  using error::error;
};

// The operating system refused a file operation: creating a directory,
// creating, writing, syncing or renaming a file. The message names the path,
// the step and the system's reason. A file that exists but holds the wrong
// bytes is a serialization_error instead.
class io_error : public error {
 public:
  using error::error;
};

// A model file or stream that cannot be read back: wrong type, newer format,
// truncated, corrupted or hostile.
class serialization_error : public error {
 public:
  using error::error;
};

// Bad data values: NaN/Inf, empty input, unknown labels, malformed CSV.
class data_error : public error {
 public:
  using error::error;
};

namespace detail {

// "redflag::<where>: <what>" — where is "Component::method".
inline std::string message(std::string_view where, std::string_view what) {
  std::string text = "redflag::";
  text.append(where).append(": ").append(what);
  return text;
}

template <class Error>
[[noreturn]] void raise(std::string_view where, std::string_view what) {
  throw Error(message(where, what));
}

}  // namespace detail
}  // namespace redflag
