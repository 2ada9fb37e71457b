#pragma once

// Helpers shared by the scaler tests: Eigen matrices from the scikit-learn
// reference literals, element-wise comparison, archive round trips, and the
// checks every scaler must pass (bad input, use before fit, schemas, files).

#include "sklearn_reference.hpp"

#include <redflag/core/concepts.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/core/types.hpp>

#include <doctest/doctest.h>
#include <cereal/archives/json.hpp>
#include <cereal/archives/portable_binary.hpp>
#include <cereal/cereal.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace scaler_test {

using redflag::Index;
using redflag::Matrix;
using redflag::Vector;
namespace ref = preprocessing_reference;

inline constexpr Index reference_columns = 6;
inline constexpr Index odd_columns = 3;

// Row-major literals to a Matrix<T> (rounded to T like numpy's astype).
template <class T>
Matrix<T> matrix(const std::vector<double>& values, Index cols) {
  const auto rows = static_cast<Index>(values.size()) / cols;
  Matrix<T> out(rows, cols);
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j < cols; ++j) out(i, j) = static_cast<T>(values[static_cast<std::size_t>(i * cols + j)]);
  }
  return out;
}

// The reference for T: values computed from input rounded to T.
template <class T>
const std::vector<double>& pick(const std::vector<double>& f64, const std::vector<double>& f32) {
  if constexpr (std::is_same_v<T, float>) {
    return f32;
  } else {
    return f64;
  }
}

// Relative tolerance of outputs: redflag computes in double like
// scikit-learn (double results agree to the last bit today; 1e-12 leaves room
// for a different summation order) and rounds once to float.
template <class T>
constexpr double output_tolerance() {
  return std::is_same_v<T, float> ? 1.5 * std::numeric_limits<float>::epsilon() : 1e-12;
}

// |got - expected| <= rel * |expected| + abs(j), element by element in
// row-major order; abs_per_column may be empty (then 0).
template <class Derived>
void check_close(const Eigen::DenseBase<Derived>& got, const std::vector<double>& expected, double rel,
                 const std::vector<double>& abs_per_column = {}, const char* what = "") {
  REQUIRE(got.size() == static_cast<Index>(expected.size()));
  const Index cols = got.cols();
  for (Index i = 0; i < got.rows(); ++i) {
    for (Index j = 0; j < cols; ++j) {
      const auto value = static_cast<double>(got(i, j));
      const double want = expected[static_cast<std::size_t>(i * cols + j)];
      const double abs = abs_per_column.empty() ? 0.0 : abs_per_column[static_cast<std::size_t>(j)];
      INFO(what << " (" << i << ", " << j << "): got " << value << ", expected " << want);
      CHECK(std::abs(value - want) <= rel * std::abs(want) + abs);
    }
  }
}

template <class Derived>
void check_equal(const Eigen::DenseBase<Derived>& got, const std::vector<double>& expected, const char* what = "") {
  check_close(got, expected, 0.0, {}, what);
}

// Calls serialize(archive, version) with an explicit format version.
template <class Model>
struct WithVersion {
  Model& model;
  std::uint32_t version;
  template <class Archive>
  void serialize(Archive& archive) {
    model.serialize(archive, version);
  }
};

// cereal's own archives, the model wrapped with its format version (cereal's
// own class version would be 0, which every component refuses): the path a
// model takes when embedded in a user's own cereal-serialized struct.
template <class Model>
Model json_round_trip(const Model& model, std::string* text = nullptr) {
  std::stringstream stream;
  {
    cereal::JSONOutputArchive archive(stream);
    WithVersion<Model> versioned{const_cast<Model&>(model), Model::format_version};
    archive(cereal::make_nvp("model", versioned));
  }
  if (text != nullptr) *text = stream.str();
  Model loaded;
  cereal::JSONInputArchive archive(stream);
  WithVersion<Model> versioned{loaded, Model::format_version};
  archive(cereal::make_nvp("model", versioned));
  return loaded;
}

template <class Model>
Model json_load(const std::string& text) {
  std::istringstream stream(text);
  Model loaded;
  cereal::JSONInputArchive archive(stream);
  WithVersion<Model> versioned{loaded, Model::format_version};
  archive(cereal::make_nvp("model", versioned));
  return loaded;
}

template <class Model>
Model binary_round_trip(const Model& model) {
  std::stringstream stream;
  {
    cereal::PortableBinaryOutputArchive archive(stream);
    WithVersion<Model> versioned{const_cast<Model&>(model), Model::format_version};
    archive(versioned);
  }
  Model loaded;
  cereal::PortableBinaryInputArchive archive(stream);
  WithVersion<Model> versioned{loaded, Model::format_version};
  archive(versioned);
  return loaded;
}

// redflag::save / redflag::load with the envelope.
template <class Model>
Model envelope_round_trip(const Model& model, redflag::Format format) {
  std::stringstream stream;
  redflag::save(model, stream, format);
  return redflag::load<Model>(stream);
}

// doctest::Contains for a std::string (it copies the text).
inline doctest::Contains contains(const std::string& text) { return doctest::Contains(text.c_str()); }

// Replaces the first occurrence of `from` (which must exist) in `text`.
inline std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, "'" << from << "' not found in the archive");
  text.replace(at, from.size(), to);
  return text;
}

// Checks shared by every scaler: `Scaler` is e.g. redflag::StandardScaler<T>,
// `name` its model_type.
template <class Scaler>
void check_common_behaviour() {
  using T = typename Scaler::scalar_type;
  const std::string name(Scaler::model_type);
  static_assert(redflag::Transformer<Scaler>);
  static_assert(redflag::SerializableModel<Scaler>);
  const Matrix<T> X = matrix<T>(ref::X, reference_columns);
  const Matrix<T> X_new = matrix<T>(ref::X_new, reference_columns);

  SUBCASE("use before fit") {
    const Scaler scaler;
    CHECK_FALSE(scaler.is_fitted());
    CHECK(scaler.schema().empty());
    CHECK_THROWS_WITH_AS((void)scaler.transform(X), contains(name + "::transform: call fit()"), redflag::not_fitted);
    CHECK_THROWS_WITH_AS((void)scaler.inverse_transform(X), contains(name + "::inverse_transform"),
                         redflag::not_fitted);
    CHECK_THROWS_WITH_AS((void)scaler.transform(X, redflag::Schema::numeric(reference_columns)),
                         contains(name + "::transform: call fit()"), redflag::not_fitted);
  }

  SUBCASE("empty input") {
    Scaler scaler;
    const Matrix<T> no_rows(0, reference_columns);
    const Matrix<T> no_cols(4, 0);
    CHECK_THROWS_WITH_AS(scaler.fit(no_rows), contains(name + "::fit: X is empty (0 rows, 6 columns)"),
                         redflag::data_error);
    CHECK_THROWS_AS(scaler.fit(no_cols), redflag::data_error);
    CHECK_FALSE(scaler.is_fitted());
    scaler.fit(X);
    CHECK_THROWS_WITH_AS((void)scaler.transform(no_rows), contains(name + "::transform: X is empty"),
                         redflag::data_error);
    CHECK_THROWS_AS((void)scaler.inverse_transform(no_rows), redflag::data_error);
  }

  SUBCASE("NaN and Inf name the row and column") {
    Scaler scaler;
    Matrix<T> bad = X;
    bad(2, 4) = std::numeric_limits<T>::quiet_NaN();
    CHECK_THROWS_WITH_AS(scaler.fit(bad), contains(name + "::fit: X has NaN at row 2, column 4"), redflag::data_error);
    CHECK_FALSE(scaler.is_fitted());
    bad(2, 4) = 1;
    bad(7, 1) = -std::numeric_limits<T>::infinity();
    CHECK_THROWS_WITH_AS(scaler.fit(bad), doctest::Contains("X has -Inf at row 7, column 1"), redflag::data_error);
    scaler.fit(X);
    CHECK_THROWS_WITH_AS((void)scaler.transform(bad), contains(name + "::transform: X has -Inf at row 7"),
                         redflag::data_error);
    CHECK_THROWS_WITH_AS((void)scaler.inverse_transform(bad),
                         contains(name + "::inverse_transform: X has -Inf at row 7, column 1"), redflag::data_error);
  }

  SUBCASE("wrong column count") {
    Scaler scaler;
    scaler.fit(X);
    const Matrix<T> narrow = X.leftCols(3);
    CHECK_THROWS_WITH_AS((void)scaler.transform(narrow),
                         contains(name + "::transform: input has 3 columns, expected 6"), redflag::schema_mismatch);
    CHECK_THROWS_WITH_AS((void)scaler.inverse_transform(narrow), doctest::Contains("input has 3 columns, expected 6"),
                         redflag::schema_mismatch);
    CHECK_THROWS_WITH_AS(scaler.fit(X, redflag::Schema::numeric(5)),
                         contains(name + "::fit: input has 6 columns, expected 5"), redflag::schema_mismatch);
  }

  SUBCASE("schemas") {
    const redflag::Schema schema = redflag::Schema::from_names({"amount", "fee", "price", "delta", "count", "ref"});
    Scaler scaler;
    scaler.fit(X, schema);
    CHECK(scaler.schema() == schema);
    const Matrix<T> plain = scaler.transform(X);
    CHECK(scaler.transform(X, schema) == plain);
    auto renamed = schema.names();
    renamed[3] = "delta_pct";
    CHECK_THROWS_WITH_AS((void)scaler.transform(X, redflag::Schema::from_names(renamed)),
                         contains(name + "::transform: column 3: expected 'delta' (numeric), got 'delta_pct'"),
                         redflag::schema_mismatch);
    CHECK_THROWS_AS((void)scaler.transform(X, redflag::Schema::numeric(6)), redflag::schema_mismatch);
    // fit without a schema names the columns x0, x1, ...
    scaler.fit(X);
    CHECK(scaler.schema() == redflag::Schema::numeric(6));
  }

  SUBCASE("fit_transform, refit, n_samples_seen") {
    Scaler scaler;
    const Matrix<T> once = scaler.fit_transform(X);
    CHECK(scaler.is_fitted());
    CHECK(scaler.n_samples_seen() == X.rows());
    CHECK(once == scaler.transform(X));
    const Matrix<T> head = X.topRows(5);
    scaler.fit(head);  // a refit forgets the previous data
    CHECK(scaler.n_samples_seen() == 5);
    Scaler fresh;
    fresh.fit(head);
    CHECK(scaler.transform(X_new) == fresh.transform(X_new));
    const redflag::Schema schema = redflag::Schema::from_names({"a", "b", "c", "d", "e", "f"});
    CHECK(scaler.fit_transform(X, schema) == once);
    CHECK(scaler.schema() == schema);
  }

  SUBCASE("transform_into writes into a caller's matrix") {
    Scaler scaler;
    Matrix<T> target(X.rows(), X.cols());
    CHECK_THROWS_WITH_AS(scaler.transform_into(X, target), contains(name + "::transform_into: call fit()"),
                         redflag::not_fitted);
    scaler.fit(X);
    const Matrix<T> expected = scaler.transform(X_new);
    Matrix<T> out(X_new.rows(), X_new.cols());
    scaler.transform_into(X_new, out);
    CHECK(out == expected);
    Matrix<T> in_place = X_new;
    scaler.transform_into(in_place, in_place);
    CHECK(in_place == expected);
    Matrix<T> wide(X_new.rows(), 7);
    CHECK_THROWS_WITH_AS(scaler.transform_into(X_new, wide),
                         contains(name + "::transform_into: out is 3 x 7, expected 3 x 6 (the shape of X)"),
                         redflag::invalid_argument);
    CHECK_THROWS_AS(scaler.transform_into(X_new.leftCols(2), out.leftCols(2)), redflag::schema_mismatch);
  }

  SUBCASE("statistics overflowing double are data errors") {
    if constexpr (std::is_same_v<T, double>) {
      Matrix<T> huge = X;
      for (Index i = 0; i < huge.rows(); ++i) huge(i, 0) = i % 2 == 0 ? -1.5e308 : 1.5e308;
      Scaler scaler;
      CHECK_THROWS_WITH_AS(scaler.fit(huge), doctest::Contains("column 0 ('x0') overflows double"),
                           redflag::data_error);
      CHECK_FALSE(scaler.is_fitted());
      // A failed refit keeps the previous fit intact.
      scaler.fit(X, redflag::Schema::from_names({"a", "b", "c", "d", "e", "f"}));
      const Matrix<T> before = scaler.transform(X_new);
      CHECK_THROWS_AS(scaler.fit(huge), redflag::data_error);
      CHECK(scaler.transform(X_new) == before);
      CHECK(scaler.schema()[0].name == "a");
    }
  }

  SUBCASE("round trips through cereal archives and redflag::save") {
    const redflag::Schema schema = redflag::Schema::from_names({"amount", "fee", "price", "delta", "count", "ref"});
    Scaler scaler;
    scaler.fit(X, schema);
    const Matrix<T> expected = scaler.transform(X_new);
    const Matrix<T> expected_inverse = scaler.inverse_transform(X_new);
    for (int route = 0; route < 4; ++route) {
      CAPTURE(route);
      const Scaler loaded = route == 0   ? json_round_trip(scaler)
                            : route == 1 ? binary_round_trip(scaler)
                            : route == 2 ? envelope_round_trip(scaler, redflag::Format::portable_binary)
                                         : envelope_round_trip(scaler, redflag::Format::json);
      CHECK(loaded.is_fitted());
      CHECK(loaded.schema() == schema);
      CHECK(loaded.n_samples_seen() == scaler.n_samples_seen());
      CHECK(loaded.transform(X_new) == expected);
      CHECK(loaded.inverse_transform(X_new) == expected_inverse);
    }
    const Scaler unfitted = json_round_trip(Scaler());
    CHECK_FALSE(unfitted.is_fitted());
    CHECK_THROWS_AS((void)unfitted.transform(X), redflag::not_fitted);
    const Scaler unfitted_binary = binary_round_trip(Scaler());
    CHECK_FALSE(unfitted_binary.is_fitted());
  }

  SUBCASE("a newer format version is rejected") {
    Scaler scaler;
    scaler.fit(X);
    std::stringstream stream;
    {
      cereal::PortableBinaryOutputArchive archive(stream);
      WithVersion<Scaler> newer{scaler, Scaler::format_version + 1};
      CHECK_THROWS_WITH_AS(archive(newer), contains(name + " format version 2 is newer"), redflag::serialization_error);
    }
  }

  SUBCASE("an inconsistent file is rejected and leaves the target untouched") {
    Scaler scaler;
    scaler.fit(X, redflag::Schema::from_names({"a", "b", "c", "d", "e", "f"}));
    std::string text;
    (void)json_round_trip(scaler, &text);
    // Drop the schema's last column from the JSON text (the object holding
    // "name": "f" and the comma before it): 6 statistics, 5 columns.
    const auto name_at = text.find(R"("name": "f")");
    REQUIRE(name_at != std::string::npos);
    const auto open = text.rfind('{', name_at);
    const auto close = text.find('}', name_at);
    const auto comma = text.rfind(',', open);
    std::string dropped = text;
    dropped.erase(comma, close - comma + 1);

    Scaler target;
    target.fit(X);
    const Matrix<T> before = target.transform(X_new);
    CHECK_THROWS_WITH_AS(target = json_load<Scaler>(dropped),
                         doctest::Contains("has 6 entries, expected 5 (one per column)"), redflag::serialization_error);
    std::istringstream stream(dropped);
    cereal::JSONInputArchive archive(stream);
    WithVersion<Scaler> versioned{target, Scaler::format_version};
    CHECK_THROWS_AS(archive(cereal::make_nvp("model", versioned)), redflag::serialization_error);
    CHECK(target.transform(X_new) == before);
    CHECK(target.schema() == redflag::Schema::numeric(6));

    // A sample count beyond Index, or a schema on an unfitted scaler.
    const std::string fitted_on = R"("n_samples_seen": 12)";
    CHECK_THROWS_WITH_AS(
        target = json_load<Scaler>(replaced(text, fitted_on, R"("n_samples_seen": 18446744073709551615)")),
        contains("redflag::load: " + name + " n_samples_seen 18446744073709551615 is out of range"),
        redflag::serialization_error);
    CHECK_THROWS_WITH_AS(target = json_load<Scaler>(replaced(text, fitted_on, R"("n_samples_seen": 0)")),
                         contains("redflag::load: " + name + " is not fitted but its schema has 6 columns"),
                         redflag::serialization_error);
    CHECK(target.transform(X_new) == before);
  }
}

}  // namespace scaler_test
