#include <redflag/core/error.hpp>

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <type_traits>

namespace {

// Throws through detail::raise and returns what each handler saw, so the
// catch order below proves which handlers the type matches.
template <class Error>
std::string caught_as_redflag_error() {
  try {
    redflag::detail::raise<Error>("IsolationForest::fit", "n_estimators must be positive, got 0");
  } catch (const redflag::error& failure) {
    return failure.what();
  }
  return "not thrown";
}

template <class Error>
std::string caught_as_runtime_error() {
  try {
    redflag::detail::raise<Error>("StandardScaler::transform", "X has 2 columns, expected 3");
  } catch (const std::runtime_error& failure) {
    return failure.what();
  }
  return "not thrown";
}

}  // namespace

static_assert(std::is_base_of_v<std::runtime_error, redflag::error>);
static_assert(std::is_base_of_v<redflag::error, redflag::invalid_argument>);
static_assert(std::is_base_of_v<redflag::error, redflag::schema_mismatch>);
static_assert(std::is_base_of_v<redflag::error, redflag::not_fitted>);
static_assert(std::is_base_of_v<redflag::error, redflag::serialization_error>);
static_assert(std::is_base_of_v<redflag::error, redflag::data_error>);
static_assert(std::is_base_of_v<redflag::error, redflag::training_error>);
static_assert(std::is_base_of_v<redflag::error, redflag::io_error>);
// Siblings are distinct: a handler for one never swallows another.
static_assert(!std::is_base_of_v<redflag::invalid_argument, redflag::schema_mismatch>);
static_assert(!std::is_base_of_v<redflag::schema_mismatch, redflag::invalid_argument>);
static_assert(!std::is_base_of_v<redflag::data_error, redflag::serialization_error>);
static_assert(!std::is_base_of_v<redflag::not_fitted, redflag::data_error>);
static_assert(!std::is_base_of_v<redflag::serialization_error, redflag::io_error>);
static_assert(!std::is_base_of_v<redflag::invalid_argument, redflag::training_error>);
// redflag::invalid_argument is a runtime error, not std::invalid_argument.
static_assert(!std::is_base_of_v<std::logic_error, redflag::invalid_argument>);

TEST_CASE_TEMPLATE("every redflag error is caught as redflag::error and std::runtime_error", E,
                   redflag::invalid_argument, redflag::schema_mismatch, redflag::not_fitted,
                   redflag::serialization_error, redflag::data_error, redflag::training_error, redflag::io_error) {
  CHECK(caught_as_redflag_error<E>() == "redflag::IsolationForest::fit: n_estimators must be positive, got 0");
  CHECK(caught_as_runtime_error<E>() == "redflag::StandardScaler::transform: X has 2 columns, expected 3");
  CHECK_THROWS_AS(redflag::detail::raise<E>("A::b", "c"), E);
  CHECK_THROWS_WITH_AS(redflag::detail::raise<E>("A::b", "c"), "redflag::A::b: c", E);
}

TEST_CASE("raise throws exactly the requested type, not a sibling") {
  bool sibling_caught = false;
  bool own_caught = false;
  try {
    try {
      redflag::detail::raise<redflag::schema_mismatch>("Pipeline::predict", "column 0 differs");
    } catch (const redflag::invalid_argument&) {
      sibling_caught = true;
    }
  } catch (const redflag::schema_mismatch& failure) {
    own_caught = true;
    CHECK(std::string(failure.what()) == "redflag::Pipeline::predict: column 0 differs");
  }
  CHECK_FALSE(sibling_caught);
  CHECK(own_caught);
}

TEST_CASE("message format is redflag::<where>: <what>") {
  CHECK(redflag::detail::message("StandardScaler::transform", "X has NaN at row 3, column 1") ==
        "redflag::StandardScaler::transform: X has NaN at row 3, column 1");
  CHECK(redflag::detail::message("load", "") == "redflag::load: ");
  // string_view arguments that are not NUL-terminated are copied by length.
  const std::string buffer = "Model::fitXYZ";
  CHECK(redflag::detail::message(std::string_view(buffer).substr(0, 10), "what") == "redflag::Model::fit: what");
}

TEST_CASE("errors constructed directly keep their message") {
  const redflag::data_error failure("redflag::read_csv: row 3 has 4 fields, expected 5");
  CHECK(std::string(failure.what()) == "redflag::read_csv: row 3 has 4 fields, expected 5");
  const redflag::error& base = failure;
  CHECK(std::string(base.what()) == failure.what());
  CHECK(dynamic_cast<const redflag::data_error*>(&base) != nullptr);
  CHECK(dynamic_cast<const redflag::not_fitted*>(&base) == nullptr);
}
