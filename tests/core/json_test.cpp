#include <redflag/core/detail/json.hpp>
#include <redflag/core/detail/json_archive.hpp>

#include <doctest/doctest.h>
#include <cereal/archives/json.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace json = redflag::detail::json;
using redflag::detail::JsonInputArchive;
using redflag::detail::JsonOutputArchive;

namespace {

struct Inner {
  std::string label;
  std::vector<float> weights;
  friend bool operator==(const Inner&, const Inner&) = default;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(cereal::make_nvp("label", label), cereal::make_nvp("weights", weights));
  }
};

enum class Colour : std::uint8_t { red, green };

// Every kind of member redflag's models and snapshots hold.
struct Everything {
  bool flag = true;
  std::int8_t small = -128;
  std::uint16_t port = 65535;
  std::int32_t offset = -2147483647 - 1;
  std::uint32_t count = 4294967295u;
  std::int64_t time = std::numeric_limits<std::int64_t>::min();
  std::uint64_t seed = std::numeric_limits<std::uint64_t>::max();
  float ratio = 0.1f;
  double values[1] = {};
  std::vector<double> history{0.1,
                              -0.0,
                              1e300,
                              std::numeric_limits<double>::denorm_min(),
                              std::numeric_limits<double>::lowest(),
                              std::numeric_limits<double>::quiet_NaN(),
                              std::numeric_limits<double>::infinity(),
                              -std::numeric_limits<double>::infinity()};
  std::string text = "quote \" backslash \\ tab \t newline \n caf\xc3\xa9 \x01";
  std::optional<Inner> present = Inner{"a", {1.5f, -2.25f}};
  std::optional<Inner> absent;
  std::map<std::string, std::int64_t> table{{"x", 1}, {"y", -2}};
  std::array<std::uint32_t, 3> fixed{1, 2, 3};
  std::vector<bool> bits{true, false, true};
  Colour colour = Colour::green;
  std::vector<Inner> nested{{"", {}}, {"b", {0.5f}}};

  template <class Archive>
  void serialize(Archive& archive) {
    archive(CEREAL_NVP(flag), CEREAL_NVP(small), CEREAL_NVP(port), CEREAL_NVP(offset), CEREAL_NVP(count),
            CEREAL_NVP(time), CEREAL_NVP(seed), CEREAL_NVP(ratio), CEREAL_NVP(history), CEREAL_NVP(text),
            CEREAL_NVP(present), CEREAL_NVP(absent), CEREAL_NVP(table), CEREAL_NVP(fixed), CEREAL_NVP(bits),
            CEREAL_NVP(colour), CEREAL_NVP(nested));
  }
};

// Written by cereal's own JSON archive (the format redflag's archives follow)
// or by redflag's.
template <class Archive = cereal::JSONOutputArchive, class Value>
std::string written(Value& value) {
  std::ostringstream out;
  {
    Archive archive(out);
    archive(cereal::make_nvp("everything", value));
  }
  return out.str();
}

Everything read(const std::string& text) {
  Everything value;
  value.flag = false;
  value.history.clear();
  value.present.reset();
  value.absent = Inner{"stale", {}};
  value.table.clear();
  value.bits.clear();
  value.nested.clear();
  JsonInputArchive archive(text);
  archive(cereal::make_nvp("everything", value));
  return value;
}

std::string error_of(const std::string& text) {
  try {
    (void)read(text);
  } catch (const redflag::serialization_error& failure) {
    return failure.what();
  }
  return "read";
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("JsonInputArchive reads back everything cereal's JSON archive writes, bit for bit") {
  Everything original;
  const std::string text = written(original);
  const Everything copy = read(text);
  CHECK(copy.flag == original.flag);
  CHECK(copy.small == original.small);
  CHECK(copy.port == original.port);
  CHECK(copy.offset == original.offset);
  CHECK(copy.count == original.count);
  CHECK(copy.time == original.time);
  CHECK(copy.seed == original.seed);
  CHECK(std::bit_cast<std::uint32_t>(copy.ratio) == std::bit_cast<std::uint32_t>(original.ratio));
  REQUIRE(copy.history.size() == original.history.size());
  for (std::size_t i = 0; i < original.history.size(); ++i) {
    CAPTURE(i);
    CHECK(std::bit_cast<std::uint64_t>(copy.history[i]) == std::bit_cast<std::uint64_t>(original.history[i]));
  }
  CHECK(copy.text == original.text);
  CHECK(copy.present == original.present);
  CHECK_FALSE(copy.absent.has_value());
  CHECK(copy.table == original.table);
  CHECK(copy.fixed == original.fixed);
  CHECK(copy.bits == original.bits);
  CHECK(copy.colour == original.colour);
  CHECK(copy.nested == original.nested);
}

TEST_CASE("JsonOutputArchive writes what cereal's JSON archive writes, byte for byte") {
  Everything everything;
  CHECK(written<JsonOutputArchive>(everything) == written(everything));
  // Numbers at every boundary of RapidJSON's layout (fixed up to 21 digits
  // before the point and 6 zeros after it, exponents otherwise).
  std::vector<double> numbers{0.0,
                              -0.0,
                              1.0,
                              100.0,
                              1e20,
                              1e21,
                              123456789012345678901.0,
                              1.5e21,
                              0.1,
                              0.000001,
                              1e-7,
                              1.25e-7,
                              1234.5,
                              -2.5e-300,
                              5e-324,
                              1e308,
                              std::numeric_limits<double>::max(),
                              1.0 / 3,
                              2.0 / 3,
                              1e15 + 0.5};
  CHECK(written<JsonOutputArchive>(numbers) == written(numbers));
  // Where RapidJSON's Grisu2 is not the closest shortest form (it writes
  // 0.30000000000000007), redflag writes the closest; both read back exactly.
  std::vector<double> sum{0.1 + 0.2};
  CHECK(written<JsonOutputArchive>(sum).find("0.30000000000000004") != std::string::npos);
  std::vector<double> back;
  JsonInputArchive(written<JsonOutputArchive>(sum))(cereal::make_nvp("everything", back));
  CHECK(back == sum);
  std::vector<std::string> texts{"", "/", "\x7f", std::string("\0\x1f", 2), "\xff\xfe"};
  CHECK(written<JsonOutputArchive>(texts) == written(texts));
  std::vector<std::vector<int>> empty_and_nested{{}, {1}, {}};
  CHECK(written<JsonOutputArchive>(empty_and_nested) == written(empty_and_nested));
  std::ostringstream nothing;
  { JsonOutputArchive archive(nothing); }
  CHECK(nothing.str().empty());
}

TEST_CASE("JsonInputArchive finds members out of order, as cereal's archive does") {
  JsonInputArchive archive(R"({"b": 2, "a": 1, "c": 3})");
  int a = 0, b = 0, c = 0;
  archive(cereal::make_nvp("a", a), cereal::make_nvp("c", c), cereal::make_nvp("b", b));
  CHECK(a == 1);
  CHECK(b == 2);
  CHECK(c == 3);
}

TEST_CASE("JsonInputArchive names the JSON path of a value of the wrong kind or range") {
  Everything original;
  const std::string text = written(original);
  CHECK(error_of(replaced(text, R"("port": 65535)", R"("port": 65536)")) ==
        "$.everything.port: expected an integer in [0, 65535], found 65536");
  CHECK(error_of(replaced(text, R"("flag": true)", R"("flag": 1)")) ==
        "$.everything.flag: expected a boolean, found 1");
  CHECK(error_of(replaced(text, R"("small": -128)", R"("small": -1.5)"))
            .find("$.everything.small: expected an integer") == 0);
  CHECK(error_of(replaced(text, R"("ratio": 0.10000000149011612)", R"("ratio": 1e39)")) ==
        "$.everything.ratio: expected a number in the range of float, found 1e39");
  CHECK(error_of(replaced(text, R"("ratio": 0.10000000149011612)", R"("ratio": 1e400)")) ==
        "$.everything.ratio: expected a number in the range of float, found 1e400");
  CHECK(error_of(replaced(text, R"("label": "a")", R"("label": [])")) ==
        "$.everything.present.data.label: expected a string, found an array");
  CHECK(error_of(replaced(text, R"("seed")", R"("sead")")) == "$.everything: missing member 'seed'");
  CHECK(error_of(replaced(text, R"("nested": [)", R"("nested": [7, )")) ==
        "$.everything.nested[0]: expected an object or an array, found a number");
  CHECK(error_of(R"({"everything": {"flag": true}})") == "$.everything: missing member 'small'");
  CHECK(error_of("[]") == "$: expected an object with member 'everything'");
  CHECK(error_of("\"text\"") == "$: expected an object or an array");
  CHECK(error_of("{\"everything\": ") == "JSON line 1, column 16 (byte 15): unexpected end of input, expected a value");
}

TEST_CASE("json::parse accepts RFC 8259 and nothing else") {
  const json::Value value = json::parse(R"( {"a": [1, -0.5e-3, true, false, null, "\u00e9\ud83d\ude00\/"], "b": {}} )");
  REQUIRE(value.is(json::Kind::object));
  const json::Value& a = *value.find("a");
  REQUIRE(a.size() == 6);
  double number = 0;
  CHECK((a.items()[1].to_double(number) && number == -0.5e-3));
  CHECK(a.items()[5].text() == "\xc3\xa9\xf0\x9f\x98\x80/");
  CHECK(value.find("b")->is(json::Kind::object));
  CHECK(value.find("c") == nullptr);

  for (const char* bad : {"",          "{",           "[1,]",
                          "{\"a\" 1}", "{\"a\": 1,}", "01",
                          "1.",        "-",           ".5",
                          "1e",        "+1",          "tru",
                          "\"\\x\"",   "\"\\ud800\"", "\"\\udc00\"",
                          "\"a\nb\"",  "[1] 2",       "NaN",
                          "Infinity",  "'a'",         "{\"a\": \"unterminated}"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS((void)json::parse(bad), redflag::data_error);
  }
  // cereal's tokens for non-finite numbers, only when asked for.
  const json::Value non_finite = json::parse("[NaN, Infinity, -Infinity]", {.allow_non_finite = true});
  double nan = 0, inf = 0, minus_inf = 0;
  CHECK((non_finite.items()[0].to_double(nan) && std::isnan(nan)));
  CHECK((non_finite.items()[1].to_double(inf) && inf == std::numeric_limits<double>::infinity()));
  CHECK((non_finite.items()[2].to_double(minus_inf) && minus_inf == -std::numeric_limits<double>::infinity()));
}

TEST_CASE("json::parse converts numbers exactly and refuses the ones out of range") {
  double value = 0;
  CHECK((json::parse("[0e81]").items()[0].to_double(value) && value == 0.0));  // clz(0) in RapidJSON
  CHECK_FALSE(json::parse("[1e400]").items()[0].to_double(value));
  CHECK((json::parse("[2.2250738585072011e-308]").items()[0].to_double(value) && value == 2.2250738585072011e-308));
  std::int64_t integer = 0;
  CHECK((json::parse("[-9223372036854775808]").items()[0].to_integer(integer) &&
         integer == std::numeric_limits<std::int64_t>::min()));
  CHECK_FALSE(json::parse("[9223372036854775808]").items()[0].to_integer(integer));
  CHECK_FALSE(json::parse("[1.0]").items()[0].to_integer(integer));
  CHECK_FALSE(json::parse("[1e3]").items()[0].to_integer(integer));
}

TEST_CASE("json::parse stops at max_depth instead of overflowing the stack") {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  CHECK_THROWS_WITH_AS((void)json::parse(deep), doctest::Contains("nesting deeper than 256 levels"),
                       redflag::data_error);
  std::string nested;
  for (int i = 0; i < 10'000; ++i) nested += "{\"a\":";
  nested += "1" + std::string(10'000, '}');
  CHECK_THROWS_WITH_AS((void)json::parse(nested), doctest::Contains("(byte 1280): nesting deeper than 256 levels"),
                       redflag::data_error);
  CHECK(json::parse(std::string(256, '[') + std::string(256, ']')).is(json::Kind::array));
}
