#include <redflag/io/csv.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../support/allocation_tracker.hpp"
#include "../support/skip.hpp"

namespace {

using redflag::CsvOptions;
using redflag::data_error;
using redflag::invalid_argument;
using redflag::parse_csv;

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// doctest::Contains takes a C string; this keeps the built message alive.
doctest::Contains contains(const std::string& text) { return doctest::Contains(text.c_str()); }

std::filesystem::path scratch(const std::string& name) {
  return std::filesystem::path(REDFLAG_TEST_SCRATCH_DIR) / name;
}

}  // namespace

TEST_CASE_TEMPLATE("parse_csv reads a header and numeric rows", T, float, double) {
  const auto table = parse_csv<T>("a,b,c\n1,2.5,-3\n4e2,+5,.25\n");
  REQUIRE(table.values.rows() == 2);
  REQUIRE(table.values.cols() == 3);
  CHECK(table.column_names() == std::vector<std::string>{"a", "b", "c"});
  CHECK(table.schema == redflag::Schema::from_names({"a", "b", "c"}));
  CHECK(table.labels.size() == 0);
  CHECK(table.label_name.empty());
  CHECK(table.values(0, 0) == T(1));
  CHECK(table.values(0, 1) == T(2.5));
  CHECK(table.values(0, 2) == T(-3));
  CHECK(table.values(1, 0) == T(400));
  CHECK(table.values(1, 1) == T(5));
  CHECK(table.values(1, 2) == T(0.25));
}

TEST_CASE("parse_csv defaults to double") {
  const auto table = parse_csv("x\n0.1\n");
  static_assert(std::is_same_v<decltype(table), const redflag::CsvTable<double>>);
  CHECK(table.values(0, 0) == 0.1);
}

TEST_CASE("float cells are parsed as float, not rounded twice through double") {
  // Just above the midpoint between 1 and the next float: a double parse rounds
  // to the midpoint exactly, which then rounds (to even) down to 1.0f.
  const auto table = parse_csv<float>("x\n1.0000000596046447753906251\n");
  CHECK(table.values(0, 0) == std::nextafter(1.0f, 2.0f));
}

TEST_CASE_TEMPLATE("number syntax: signs, exponents, whitespace, quotes", T, float, double) {
  const auto table = parse_csv<T>(
      "a,b,c,d\n"
      "+1.5, 1e-3 ,\t-0\t,\"7\"\n"
      "5.,  +.5, 1E+2 ,\" -2.5 \"\n");
  CHECK(table.values(0, 0) == T(1.5));
  CHECK(table.values(0, 1) == T(1e-3));
  CHECK(table.values(0, 2) == T(0));
  CHECK(std::signbit(table.values(0, 2)));
  CHECK(table.values(0, 3) == T(7));
  CHECK(table.values(1, 0) == T(5));
  CHECK(table.values(1, 1) == T(0.5));
  CHECK(table.values(1, 2) == T(100));
  CHECK(table.values(1, 3) == T(-2.5));
}

TEST_CASE("line endings, trailing newline, trailing blank lines and BOM") {
  const std::vector<std::string> texts = {
      "a,b\n1,2\n3,4\n",
      "a,b\n1,2\n3,4",
      "a,b\r\n1,2\r\n3,4\r\n",
      "a,b\r\n1,2\r\n3,4",
      "a,b\n1,2\n3,4\n\n  \n\r\n\t\n",
      "\xEF\xBB\xBF"
      "a,b\n1,2\n3,4\n",
  };
  for (const auto& text : texts) {
    CAPTURE(text);
    const auto table = parse_csv<double>(text);
    CHECK(table.column_names() == std::vector<std::string>{"a", "b"});
    REQUIRE(table.values.rows() == 2);
    CHECK(table.values(1, 1) == 4.0);
  }
}

TEST_CASE("quoted header names keep delimiters, escaped quotes and spaces") {
  const auto table = parse_csv<double>("\"x,1\", \"say \"\"hi\"\"\" ,\" padded \",plain name \n1,2,3,4\n");
  CHECK(table.column_names() == std::vector<std::string>{"x,1", "say \"hi\"", " padded ", "plain name"});
}

TEST_CASE("other delimiters") {
  const auto semicolon = parse_csv<double>("a;b\n1.5;2\n", {.delimiter = ';'});
  CHECK(semicolon.values(0, 0) == 1.5);
  const auto tab = parse_csv<double>("a\tb\n1\t 2\n", {.delimiter = '\t'});
  CHECK(tab.values(0, 1) == 2.0);
  CHECK_THROWS_WITH_AS(parse_csv<double>("a;b\n1,5;2\n", {.delimiter = ';'}),
                       doctest::Contains("column 1 ('a'): cannot parse '1,5' as a number"), data_error);
  for (const char bad : {'.', '-', '+', '"', 'e', '7', '\n', '\r', '\0'}) {
    CAPTURE(static_cast<int>(bad));
    CHECK_THROWS_WITH_AS(parse_csv<double>("a\n1\n", {.delimiter = bad}),
                         doctest::Contains("redflag::parse_csv: delimiter must be"), invalid_argument);
  }
}

TEST_CASE_TEMPLATE("label column is moved out of the features", T, float, double) {
  const auto table = parse_csv<T>("f0,label,f1\n1,0,2\n3,1.0,4\n5,+1,6\n7,-0,8\n", {.label_column = "label"});
  CHECK(table.column_names() == std::vector<std::string>{"f0", "f1"});
  CHECK(table.label_name == "label");
  REQUIRE(table.labels.size() == 4);
  CHECK(table.labels(0) == 0);
  CHECK(table.labels(1) == 1);
  CHECK(table.labels(2) == 1);
  CHECK(table.labels(3) == 0);
  CHECK(table.values(1, 1) == T(4));
}

TEST_CASE("label values must be integers") {
  const CsvOptions options{.label_column = "y"};
  CHECK_THROWS_WITH_AS(parse_csv<double>("x,y\n1,0\n2,yes\n", options, "t.csv"),
                       doctest::Contains("redflag::parse_csv: t.csv line 3, column 2 ('y'): cannot "
                                         "parse 'yes' as an integer label"),
                       data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>("x,y\n1,1.5\n", options),
                       doctest::Contains("line 2, column 2 ('y'): label '1.5' is not an integer"), data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>("x,y\n1,nan\n", options), doctest::Contains("label 'nan' is not an integer"),
                       data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>("x,y\n1,\n", options),
                       doctest::Contains("line 2, column 2 ('y'): empty label"), data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>("x,y\n1,99999999999999999999\n", options),
                       doctest::Contains("not an integer in the 64-bit range"), data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>("x,y\n1,+-1\n", options),
                       doctest::Contains("cannot parse '+-1' as an integer label"), data_error);
  // allow_non_finite applies to features only.
  CHECK_THROWS_AS(parse_csv<double>("x,y\n1,\n", {.label_column = "y", .allow_non_finite = true}), data_error);
  CHECK(parse_csv<double>("x,y\n1,\" 7 \"\n", options).labels(0) == 7);
  CHECK(parse_csv<double>("x,y\n1,-3e0\n", options).labels(0) == -3);
}

TEST_CASE("select and drop columns") {
  const std::string text = "a,b,c,d,label\n1,2,3,4,0\n5,6,7,8,1\n";
  SUBCASE("columns keeps the given order") {
    const auto table = parse_csv<double>(text, {.columns = {"c", "a"}});
    CHECK(table.column_names() == std::vector<std::string>{"c", "a"});
    CHECK(table.values(1, 0) == 7.0);
    CHECK(table.values(1, 1) == 5.0);
  }
  SUBCASE("drop removes columns") {
    const auto table = parse_csv<double>(text, {.drop = {"b", "label"}});
    CHECK(table.column_names() == std::vector<std::string>{"a", "c", "d"});
    CHECK(table.values(0, 2) == 4.0);
  }
  SUBCASE("label with columns and drop") {
    const auto table = parse_csv<float>(text, {.label_column = "label", .columns = {"d", "b", "a"}, .drop = {"c"}});
    CHECK(table.column_names() == std::vector<std::string>{"d", "b", "a"});
    CHECK(table.values(0, 0) == 4.0f);
    CHECK(table.labels(1) == 1);
  }
  SUBCASE("skipped columns are not parsed") {
    const auto table = parse_csv<double>("id,x\nabc,1\n\"q,\"\"r\",2\n", {.drop = {"id"}});
    CHECK(table.values.rows() == 2);
    CHECK(table.values(1, 0) == 2.0);
  }
}

TEST_CASE("unknown or contradictory column options") {
  const std::string text = "a,b,label\n1,2,0\n";
  CHECK_THROWS_WITH_AS(parse_csv<double>(text, {.label_column = "class"}, "f.csv"),
                       doctest::Contains("redflag::parse_csv: f.csv: label_column names 'class', which is "
                                         "not a column (columns: 'a', 'b', 'label')"),
                       data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>(text, {.columns = {"a", "z"}}),
                       doctest::Contains("columns names 'z', which is not a column"), data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>(text, {.drop = {"z"}}),
                       doctest::Contains("drop names 'z', which is not a column (columns: 'a', 'b', 'label')"),
                       data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>(text, {.label_column = "label", .columns = {"a", "label"}}),
                       doctest::Contains("columns lists the label column 'label'"), invalid_argument);
  CHECK_THROWS_WITH_AS(parse_csv<double>(text, {.columns = {"a", "a"}}), doctest::Contains("columns lists 'a' twice"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(parse_csv<double>(text, {.columns = {"a", "b"}, .drop = {"b"}}),
                       doctest::Contains("'b' is in both columns and drop"), invalid_argument);
  CHECK_THROWS_WITH_AS(parse_csv<double>(text, {.label_column = "label", .drop = {"label"}}),
                       doctest::Contains("drop lists the label column 'label'"), invalid_argument);
  CHECK_THROWS_WITH_AS(parse_csv<double>(text, {.label_column = "label", .drop = {"a", "b"}}),
                       doctest::Contains("no feature columns left"), data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>("label\n1\n", {.label_column = "label"}),
                       doctest::Contains("no feature columns left"), data_error);
}

TEST_CASE("empty input, header problems and missing rows") {
  for (const std::string text : {"", "\n\n", "  \r\n", "\xEF\xBB\xBF"}) {
    CAPTURE(text);
    CHECK_THROWS_WITH_AS(parse_csv<double>(text, {}, "e.csv"),
                         doctest::Contains("redflag::parse_csv: e.csv is empty (a header line"), data_error);
  }
  CHECK_THROWS_WITH_AS(parse_csv<double>("\na,b\n1,2\n"),
                       doctest::Contains("<string> line 1 is blank; the first line must be the header"), data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>("a,b\n"), doctest::Contains("<string> has a header but no data rows"),
                       data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>("a,b\n\n \n"), doctest::Contains("has a header but no data rows"), data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>("a,,c\n1,2,3\n"),
                       doctest::Contains("line 1, column 2: empty column name in the header"), data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>("a,b,\n1,2,\n"), doctest::Contains("line 1, column 3: empty column name"),
                       data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>("a,b,a\n1,2,3\n"),
                       doctest::Contains("line 1, column 3 ('a'): duplicate column name (column 1 has the same name)"),
                       data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>("\" a\",\" a\"\n1,2\n"),
                       doctest::Contains("column 2 (' a'): duplicate column name"), data_error);
}

TEST_CASE_TEMPLATE("malformed cells report line, column number and name", T, float, double) {
  CHECK_THROWS_WITH_AS(
      parse_csv<T>("f0,f1,f2\n1,2,3\n4,5,abc\n", {}, "shuttle.csv"),
      doctest::Contains("redflag::parse_csv: shuttle.csv line 3, column 3 ('f2'): cannot parse 'abc' as a number"),
      data_error);
  const auto message_of = [](const std::string& text, const CsvOptions& options = {}) {
    try {
      parse_csv<T>(text, options);
    } catch (const data_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message_of("a,b\n1,2\n3\n") ==
        "redflag::parse_csv: <string> line 3, column 2 ('b'): missing value: the row has 1 field, "
        "the header has 2");
  CHECK(message_of("a,b\n1,2\n3,4,5,6\n") ==
        "redflag::parse_csv: <string> line 3, column 3: extra value: the row has 4 fields, the header has 2");
  CHECK(message_of("a,b\n1,2,\n") ==
        "redflag::parse_csv: <string> line 2, column 3: extra value: the row has 3 fields, the header has 2");
  CHECK(message_of("a,b\n1,2\n\n3,4\n") ==
        "redflag::parse_csv: <string> line 3 is blank; blank lines are only allowed at the end of the file");
  CHECK(message_of("a,b\n1,\n") ==
        "redflag::parse_csv: <string> line 2, column 2 ('b'): empty cell (set allow_non_finite to read "
        "empty cells as NaN)");
  CHECK(message_of("a,b\n1,\"2\n") ==
        "redflag::parse_csv: <string> line 2, column 2 ('b'): quoted field is not closed (missing '\"')");
  CHECK(message_of("a,b\n1,\"2\"x\n") ==
        "redflag::parse_csv: <string> line 2, column 2 ('b'): unexpected 'x' after a closing quote");
  for (const std::string cell :
       {"+-1", "++1", "1e", "0x10", "1.2.3", "- 1", "1 2", "--1", "+", "nan(", "inf x", "1,5"}) {
    CAPTURE(cell);
    CHECK(message_of("a,b\n0,\"" + cell + "\"\n") ==
          "redflag::parse_csv: <string> line 2, column 2 ('b'): cannot parse '" + cell + "' as a number");
  }
  // Control bytes are escaped and long cells shortened in messages.
  CHECK(message_of("a\nx\x01y\n") ==
        "redflag::parse_csv: <string> line 2, column 1 ('a'): cannot parse 'x\\x01y' as a number");
  CHECK(message_of("a\n" + std::string(100, 'z') + "\n") ==
        "redflag::parse_csv: <string> line 2, column 1 ('a'): cannot parse '" + std::string(40, 'z') +
            "...' as a number");
}

TEST_CASE("line numbers count CRLF lines, BOM and newlines inside quoted names") {
  CHECK_THROWS_WITH_AS(parse_csv<double>("\xEF\xBB\xBF"
                                         "a,b\r\n1,2\r\n3,x\r\n"),
                       doctest::Contains("line 3, column 2 ('b'): cannot parse 'x'"), data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>("\"multi\nline\",b\n1,2\n3,x\n"),
                       doctest::Contains("line 4, column 2 ('b'): cannot parse 'x'"), data_error);
}

TEST_CASE_TEMPLATE("NaN, Inf and empty cells need allow_non_finite", T, float, double) {
  for (const std::string cell : {"nan", "NaN", "inf", "-inf", "Infinity", "-nan"}) {
    CAPTURE(cell);
    CHECK_THROWS_WITH_AS(parse_csv<T>("a,b\n1," + cell + "\n"),
                         contains("line 2, column 2 ('b'): non-finite value '" + cell +
                                  "' (set allow_non_finite to accept NaN and Inf)"),
                         data_error);
  }
  const auto table = parse_csv<T>("a,b,c,d\nnan,-inf,,\" \"\n1,inf,2,3\n", {.allow_non_finite = true});
  CHECK(std::isnan(table.values(0, 0)));
  CHECK(table.values(0, 1) == -std::numeric_limits<T>::infinity());
  CHECK(std::isnan(table.values(0, 2)));
  CHECK(std::isnan(table.values(0, 3)));
  CHECK(table.values(1, 1) == std::numeric_limits<T>::infinity());
}

TEST_CASE("values out of range for the scalar type") {
  CHECK_THROWS_WITH_AS(parse_csv<float>("a,b\n1,1e300\n"),
                       doctest::Contains("line 2, column 2 ('b'): '1e300' is out of range for float32"), data_error);
  CHECK_THROWS_WITH_AS(parse_csv<float>("a\n-3.5e38\n"), doctest::Contains("'-3.5e38' is out of range for float32"),
                       data_error);
  CHECK(parse_csv<double>("a,b\n1,1e300\n").values(0, 1) == 1e300);
  CHECK_THROWS_WITH_AS(parse_csv<double>("a\n1e400\n"), doctest::Contains("'1e400' is out of range for float64"),
                       data_error);
  CHECK_THROWS_WITH_AS(parse_csv<double>("a\n1e99999999999999999999\n"), doctest::Contains("out of range for float64"),
                       data_error);
  // allow_non_finite does not turn an overflow into Inf.
  CHECK_THROWS_AS(parse_csv<float>("a\n1e39\n", {.allow_non_finite = true}), data_error);
  // Underflow rounds to (signed) zero, as the nearest representable value.
  const auto tiny = parse_csv<float>("a,b,c\n1e-50,-0.00000000000000000000000000000000000000000000001,1e-45\n");
  CHECK(tiny.values(0, 0) == 0.0f);
  CHECK(std::signbit(tiny.values(0, 1)));
  CHECK(tiny.values(0, 2) > 0.0f);
  CHECK(parse_csv<double>("a\n1e-99999999999999999999\n").values(0, 0) == 0.0);
}

TEST_CASE_TEMPLATE("a 100 MB line is a clear error, with no allocation that grows with it", T, float, double) {
  const std::size_t length = std::size_t{100} << 20;
  std::string text = "x0,x1\n1,2\n";
  text.append(length, '7');
  text += ",3\n";
  redflag::test::largest_allocation = 0;
  CHECK_THROWS_WITH_AS((void)parse_csv<T>(text), doctest::Contains("line 3"), data_error);
  CHECK(redflag::test::largest_allocation.load() < (std::size_t{1} << 20));
}

TEST_CASE("read_csv from a file and a stream") {
  const auto path = scratch("csv_read.csv");
  {
    std::ofstream out(path, std::ios::binary);
    out << "x,y,label\n1,2,0\n3,oops,1\n";
  }
  CHECK_THROWS_WITH_AS(
      redflag::read_csv<double>(path),
      contains("redflag::read_csv: " + path.string() + " line 3, column 2 ('y'): cannot parse 'oops' as a number"),
      data_error);
  const auto table = redflag::read_csv<float>(path, {.label_column = "label", .drop = {"y"}});
  CHECK(table.values.rows() == 2);
  CHECK(table.values(1, 0) == 3.0f);
  CHECK(table.labels(1) == 1);

  std::istringstream stream("x\n1\nz\n");
  CHECK_THROWS_WITH_AS(redflag::read_csv<double>(stream, {}, "feed"),
                       doctest::Contains("redflag::read_csv: feed line 3, column 1 ('x'): cannot parse 'z'"),
                       data_error);
  std::istringstream good("x\n1\n2\n");
  CHECK(redflag::read_csv<double>(good).values(1, 0) == 2.0);
}

TEST_CASE("read_csv names a missing file or a directory") {
  const auto missing = scratch("no_such_file.csv");
  CHECK_THROWS_WITH_AS(redflag::read_csv<double>(missing),
                       contains("redflag::read_csv: cannot open '" + missing.string() + "': file not found"),
                       data_error);
  CHECK_THROWS_WITH_AS(redflag::read_csv<double>(std::filesystem::path(REDFLAG_TEST_SCRATCH_DIR)),
                       doctest::Contains("is a directory"), data_error);
}

TEST_CASE_TEMPLATE("write_csv then read_csv reproduces every value bit for bit", T, float, double) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::uint64_t> bits;
  constexpr redflag::Index rows = 300;
  redflag::Matrix<T> values(rows, 4);
  for (redflag::Index i = 0; i < rows; ++i) {
    for (redflag::Index j = 0; j < 4; ++j) {
      T value{};
      do {  // random bit patterns cover every exponent, subnormals included
        const std::uint64_t word = bits(rng);
        std::memcpy(&value, &word, sizeof(T));
      } while (!std::isfinite(value));
      values(i, j) = value;
    }
  }
  values(0, 0) = std::numeric_limits<T>::max();
  values(0, 1) = std::numeric_limits<T>::lowest();
  values(0, 2) = std::numeric_limits<T>::denorm_min();
  values(0, 3) = -T(0);
  redflag::LabelVector labels(rows);
  for (redflag::Index i = 0; i < rows; ++i) labels(i) = static_cast<redflag::Label>(bits(rng) % 3) - 1;
  labels(1) = std::numeric_limits<redflag::Label>::min();
  labels(2) = std::numeric_limits<redflag::Label>::max();
  const std::vector<std::string> names = {"plain", "with,comma", "with \"quote\"", " padded "};

  std::ostringstream out;
  redflag::write_csv(out, values, names, labels, {.label_column = "is anomaly"});
  const auto table = parse_csv<T>(out.str(), {.label_column = "is anomaly"});
  CHECK(table.column_names() == names);
  REQUIRE(table.values.rows() == rows);
  REQUIRE(table.values.cols() == 4);
  bool all_same = true;
  for (redflag::Index i = 0; i < rows; ++i) {
    for (redflag::Index j = 0; j < 4; ++j) all_same = all_same && same_bits(values(i, j), table.values(i, j));
  }
  CHECK(all_same);
  CHECK(table.labels == labels);

  // The table overload and the file overload keep the label name.
  const auto path = scratch(std::string("csv_round_trip_") + std::string(redflag::scalar_name<T>) + ".csv");
  redflag::write_csv(path, table, {.delimiter = ';'});
  const auto again = redflag::read_csv<T>(path, {.delimiter = ';', .label_column = "is anomaly"});
  CHECK(again.values == table.values);
  CHECK(again.labels == labels);
}

TEST_CASE("write_csv writes NaN and Inf that read back with allow_non_finite") {
  Eigen::MatrixXd values(1, 3);  // column-major and any Eigen expression work too
  values << std::nan(""), -std::numeric_limits<double>::infinity(), 1.5;
  std::ostringstream out;
  redflag::write_csv(out, values.transpose().transpose(), {"a", "b", "c"});
  CHECK(out.str() == "a,b,c\nnan,-inf,1.5\n");
  CHECK_THROWS_AS(parse_csv<double>(out.str()), data_error);
  const auto table = parse_csv<double>(out.str(), {.allow_non_finite = true});
  CHECK(std::isnan(table.values(0, 0)));
  CHECK(std::isinf(table.values(0, 1)));
}

TEST_CASE("write_csv rejects inconsistent arguments") {
  redflag::Matrix<double> values(2, 2);
  values << 1, 2, 3, 4;
  std::ostringstream out;
  CHECK_THROWS_WITH_AS(redflag::write_csv(out, values, {"a"}),
                       doctest::Contains("redflag::write_csv: names has 1 entries but values has 2 columns"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(redflag::write_csv(out, values, {"a", "a"}), doctest::Contains("names contains 'a' twice"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(redflag::write_csv(out, values, {"a", ""}), doctest::Contains("empty name"), invalid_argument);
  const redflag::LabelVector three = redflag::LabelVector::Zero(3);
  CHECK_THROWS_WITH_AS(redflag::write_csv(out, values, {"a", "b"}, three),
                       doctest::Contains("labels has 3 rows but values has 2"), invalid_argument);
  const redflag::LabelVector two = redflag::LabelVector::Zero(2);
  CHECK_THROWS_WITH_AS(redflag::write_csv(out, values, {"a", "label"}, two),
                       doctest::Contains("label_column 'label' is also a feature name"), invalid_argument);
  CHECK_THROWS_AS(redflag::write_csv(out, values, {"a", "b"}, {.delimiter = '.'}), invalid_argument);
  CHECK_THROWS_WITH_AS(redflag::write_csv(out, redflag::Matrix<double>(0, 2), {"a", "b"}),
                       doctest::Contains("values is empty"), data_error);
  CHECK(out.str().empty());
  const auto bad_path = scratch("no_such_dir") / "out.csv";
  CHECK_THROWS_WITH_AS(redflag::write_csv(bad_path, parse_csv<double>("a\n1\n")),
                       contains("redflag::write_csv: cannot open '" + bad_path.string() + "' for writing"), data_error);
}

TEST_CASE_TEMPLATE("shuttle.csv from REDFLAG_DATA_DIR" * doctest::test_suite("data"), T, float, double) {
  const auto path = redflag::test::dataset("shuttle.csv");
  if (!path) return;
  const auto table = redflag::read_csv<T>(*path, {.label_column = "label"});
  CHECK(table.values.rows() == 49097);
  CHECK(table.values.cols() == 9);
  CHECK(table.column_names() == std::vector<std::string>{"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8"});
  CHECK(table.labels.size() == 49097);
  CHECK(table.labels.sum() == 3511);
  CHECK(((table.labels.array() == 0) || (table.labels.array() == 1)).all());
  redflag::Matrix<T> first(1, 9);
  first << 50, 21, 77, 0, 28, 0, 27, 48, 22;
  CHECK(table.values.row(0) == first);
  CHECK(table.labels(0) == 1);
  CHECK(table.values.allFinite());
}

// Mutated CSV text must either parse into a consistent table or throw
// data_error: never crash, hang, or throw anything else.
TEST_CASE_TEMPLATE("randomly mutated CSV text parses or throws data_error", T, float, double) {
  const std::string base =
      "\xEF\xBB\xBF"
      "a,\"b,\"\"x\"\"\",c,label\r\n1.5,-2,+3e2,1\r\n4,nan,\" 6 \",0\n7,8,9,1\n\n";
  const std::string alphabet = std::string(",\"\r\n \t+-.eE019nai") + '\0' + "\xEF\xff";
  std::mt19937 rng(12345);
  int parsed = 0;
  int rejected = 0;
  for (int round = 0; round < 4000; ++round) {
    std::string text = base;
    const int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = text.empty() ? 0 : rng() % (text.size() + 1);
      switch (rng() % 5) {
        case 0: text.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
        case 1:
          if (at < text.size()) text.erase(at, 1 + rng() % 3);
          break;
        case 2:
          if (at < text.size()) text[at] = static_cast<char>(rng() % 256);
          break;
        case 3: text.resize(at); break;
        default:
          if (at < text.size()) text.insert(at, text.substr(at, 1 + rng() % 8));
          break;
      }
    }
    const CsvOptions options{.label_column = (round % 2 == 0) ? "label" : "", .allow_non_finite = (round % 3 == 0)};
    try {
      const auto table = parse_csv<T>(text, options);
      ++parsed;
      REQUIRE(table.values.rows() > 0);
      REQUIRE(table.values.cols() == table.schema.size());
      REQUIRE(table.labels.size() == (options.label_column.empty() ? 0 : table.values.rows()));
      if (!options.allow_non_finite) REQUIRE(table.values.allFinite());
    } catch (const data_error&) {
      ++rejected;
    }
  }
  // Both outcomes occur, so the mutations exercise the accepting paths too.
  CHECK(parsed > 100);
  CHECK(rejected > 100);
}

TEST_CASE("append_csv_field and append_csv_number write rows read_csv reads back as written") {
  std::string text;
  const std::vector<std::string> names = {"plain", "with,comma", " padded ", "say \"hi\"", "two\nlines"};
  for (std::size_t j = 0; j < names.size(); ++j) {
    if (j > 0) text += ',';
    redflag::append_csv_field(text, names[j]);
  }
  text += '\n';
  const std::vector<double> values = {0.1, -1e-300, 123456789.0, 1.0 / 3.0, 5e-324};
  for (std::size_t j = 0; j < values.size(); ++j) {
    if (j > 0) text += ',';
    redflag::append_csv_number(text, values[j]);
  }
  text += '\n';
  const auto table = parse_csv<double>(text);
  CHECK(table.schema.names() == names);
  REQUIRE(table.values.cols() == 5);
  for (std::size_t j = 0; j < values.size(); ++j) CHECK(table.values(0, static_cast<redflag::Index>(j)) == values[j]);
  std::string empty;
  redflag::append_csv_field(empty, "");
  CHECK(empty.empty());
}
