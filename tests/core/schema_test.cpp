#include <redflag/core/bounded_archive.hpp>
#include <redflag/core/schema.hpp>

#include <doctest/doctest.h>
#include <cereal/archives/json.hpp>
#include <cereal/archives/portable_binary.hpp>

#include <span>
#include <sstream>
#include <string>
#include <vector>

using redflag::Column;
using redflag::ColumnKind;
using redflag::Schema;

namespace {

Schema transaction_schema() {
  return Schema{{"amount", ColumnKind::numeric},
                {"hour_sin", ColumnKind::timestamp_derived},
                {"hour_cos", ColumnKind::timestamp_derived},
                {"merchant_category", ColumnKind::categorical}};
}

std::string to_portable_binary(const Schema& schema) {
  std::ostringstream stream(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive archive(stream);
    archive(schema);
  }
  return std::move(stream).str();
}

Schema from_bounded_binary(const std::string& bytes) {
  redflag::detail::BoundedBinaryInputArchive archive(std::span<const char>(bytes.data(), bytes.size()));
  Schema schema;
  archive(schema);
  CHECK(archive.remaining() == 0);
  return schema;
}

}  // namespace

TEST_CASE("ColumnKind names") {
  CHECK(redflag::to_string(ColumnKind::numeric) == "numeric");
  CHECK(redflag::to_string(ColumnKind::categorical) == "categorical");
  CHECK(redflag::to_string(ColumnKind::timestamp_derived) == "timestamp_derived");
  static_assert(redflag::to_string(ColumnKind::categorical) == "categorical");
}

TEST_CASE("construction, access and find") {
  const Schema schema = transaction_schema();
  CHECK(schema.size() == 4);
  CHECK_FALSE(schema.empty());
  CHECK(schema[0].name == "amount");
  CHECK(schema[1].kind == ColumnKind::timestamp_derived);
  CHECK(schema[3].kind == ColumnKind::categorical);
  CHECK(schema.names() == std::vector<std::string>{"amount", "hour_sin", "hour_cos", "merchant_category"});
  CHECK(schema.find("amount") == 0);
  CHECK(schema.find("hour_cos") == 2);
  CHECK(schema.find("merchant_category") == 3);
  CHECK(schema.find("hour") == -1);
  CHECK(schema.find("") == -1);
  CHECK(schema.find("Amount") == -1);  // names are case-sensitive

  std::vector<std::string> iterated;
  for (const Column& column : schema) iterated.push_back(column.name);
  CHECK(iterated == schema.names());
  CHECK(schema.columns().size() == 4);

  const Schema empty;
  CHECK(empty.empty());
  CHECK(empty.size() == 0);
  CHECK(empty.find("amount") == -1);
  CHECK(empty.describe().empty());
}

TEST_CASE("numeric() and from_names()") {
  const Schema numeric = Schema::numeric(3);
  CHECK(numeric.names() == std::vector<std::string>{"x0", "x1", "x2"});
  for (const Column& column : numeric) CHECK(column.kind == ColumnKind::numeric);
  CHECK(Schema::numeric(0).empty());
  CHECK(Schema::numeric(12)[11].name == "x11");

  const Schema named = Schema::from_names({"amount", "balance"});
  CHECK(named.size() == 2);
  CHECK(named[1] == Column{"balance", ColumnKind::numeric});
  CHECK(named == Schema{{"amount", ColumnKind::numeric}, {"balance", ColumnKind::numeric}});
}

TEST_CASE("equality compares names, kinds and order") {
  const Schema schema = transaction_schema();
  CHECK(schema == transaction_schema());
  CHECK_FALSE(schema == Schema::numeric(4));
  CHECK_FALSE(Schema{{"a", ColumnKind::numeric}} == Schema{{"a", ColumnKind::categorical}});
  CHECK_FALSE((Schema{{"a"}, {"b"}} == Schema{{"b"}, {"a"}}));
  CHECK_FALSE((Schema{{"a"}} == Schema{{"a"}, {"b"}}));
}

TEST_CASE("describe() lists names and shortens after eight") {
  CHECK(transaction_schema().describe() == "amount, hour_sin, hour_cos, merchant_category");
  CHECK(Schema::numeric(8).describe() == "x0, x1, x2, x3, x4, x5, x6, x7");
  CHECK(Schema::numeric(9).describe() == "x0, x1, x2, x3, x4, x5, x6, x7, ... (9 in all)");
  CHECK(Schema::numeric(250).describe() == "x0, x1, x2, x3, x4, x5, x6, x7, ... (250 in all)");
  CHECK(Schema::numeric(1).describe() == "x0");
}

TEST_CASE("require_columns names the expected count and columns") {
  const Schema schema = transaction_schema();
  CHECK_NOTHROW(schema.require_columns(4, "RobustZScore::anomaly_score"));
  CHECK_THROWS_WITH_AS(schema.require_columns(3, "RobustZScore::anomaly_score"),
                       "redflag::RobustZScore::anomaly_score: input has 3 columns, expected 4 "
                       "(amount, hour_sin, hour_cos, merchant_category)",
                       redflag::schema_mismatch);
  CHECK_THROWS_WITH_AS(Schema::numeric(20).require_columns(0, "IsolationForest::predict"),
                       doctest::Contains("input has 0 columns, expected 20 (x0, x1, x2, x3, x4, x5, x6, x7, ... "
                                         "(20 in all))"),
                       redflag::schema_mismatch);
  CHECK_NOTHROW(Schema().require_columns(0, "A::b"));
}

TEST_CASE("require_same names the first differing column with expected and got") {
  const Schema expected = transaction_schema();
  CHECK_NOTHROW(expected.require_same(transaction_schema(), "Pipeline::predict"));

  // Different count: reported as a column count mismatch.
  CHECK_THROWS_WITH_AS(expected.require_same(Schema::numeric(2), "Pipeline::predict"),
                       doctest::Contains("input has 2 columns, expected 4"), redflag::schema_mismatch);

  // A renamed column.
  Schema renamed{{"amount", ColumnKind::numeric},
                 {"hour", ColumnKind::timestamp_derived},
                 {"hour_cos", ColumnKind::timestamp_derived},
                 {"merchant_category", ColumnKind::categorical}};
  CHECK_THROWS_WITH_AS(expected.require_same(renamed, "Pipeline::predict"),
                       "redflag::Pipeline::predict: column 1: expected 'hour_sin' (timestamp_derived), got "
                       "'hour' (timestamp_derived)",
                       redflag::schema_mismatch);

  // Same names, different kind.
  Schema rekinded{{"amount", ColumnKind::numeric},
                  {"hour_sin", ColumnKind::timestamp_derived},
                  {"hour_cos", ColumnKind::timestamp_derived},
                  {"merchant_category", ColumnKind::numeric}};
  CHECK_THROWS_WITH_AS(expected.require_same(rekinded, "Pipeline::predict"),
                       doctest::Contains("column 3: expected 'merchant_category' (categorical), got "
                                         "'merchant_category' (numeric)"),
                       redflag::schema_mismatch);

  // Reordered columns: the first position that differs is reported.
  Schema reordered{{"amount", ColumnKind::numeric},
                   {"hour_cos", ColumnKind::timestamp_derived},
                   {"hour_sin", ColumnKind::timestamp_derived},
                   {"merchant_category", ColumnKind::categorical}};
  CHECK_THROWS_WITH_AS(expected.require_same(reordered, "Pipeline::predict"),
                       doctest::Contains("column 1: expected 'hour_sin'"), redflag::schema_mismatch);
}

TEST_CASE("portable binary round trip through the bounded archive") {
  const Schema schema = transaction_schema();
  CHECK(from_bounded_binary(to_portable_binary(schema)) == schema);
  CHECK(from_bounded_binary(to_portable_binary(Schema())) == Schema());
  CHECK(from_bounded_binary(to_portable_binary(Schema::numeric(100))) == Schema::numeric(100));

  // cereal's own portable binary reader agrees.
  std::istringstream stream(to_portable_binary(schema), std::ios::binary);
  cereal::PortableBinaryInputArchive archive(stream);
  Schema loaded;
  archive(loaded);
  CHECK(loaded == schema);
}

TEST_CASE("JSON round trip keeps names and kinds readable") {
  const Schema schema = transaction_schema();
  std::ostringstream out;
  {
    cereal::JSONOutputArchive archive(out);
    archive(cereal::make_nvp("schema", schema));
  }
  const std::string text = out.str();
  CHECK(text.find("\"hour_sin\"") != std::string::npos);
  CHECK(text.find("\"kind\"") != std::string::npos);
  std::istringstream in(text);
  cereal::JSONInputArchive archive(in);
  Schema loaded;
  archive(cereal::make_nvp("schema", loaded));
  CHECK(loaded == schema);
}

TEST_CASE("loading an unknown column kind code fails") {
  std::string bytes = to_portable_binary(transaction_schema());
  // The last byte is the kind code of the last column (categorical = 1).
  REQUIRE(bytes.back() == static_cast<char>(ColumnKind::categorical));
  bytes.back() = 7;
  CHECK_THROWS_WITH_AS(from_bounded_binary(bytes), "redflag::load: column 'merchant_category' has unknown kind code 7",
                       redflag::serialization_error);
}

TEST_CASE("a truncated or hostile schema never loads") {
  const std::string bytes = to_portable_binary(transaction_schema());
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    INFO("length " << length);
    CHECK_THROWS_AS(from_bounded_binary(bytes.substr(0, length)), redflag::serialization_error);
  }
  // A column count far beyond the bytes present is rejected before allocating.
  std::string hostile = bytes;
  for (std::size_t i = 1; i < 9; ++i) hostile[i] = '\x7f';  // bytes 1..8: the column count
  CHECK_THROWS_WITH_AS(from_bounded_binary(hostile),
                       doctest::Contains("byte 9: length prefix 9187201950435737471 exceeds the"),
                       redflag::serialization_error);
}
