#pragma once

// A cereal input archive for JSON that reads exactly what cereal's JSON
// archives write (json_output_archive.hpp writes the same), through redflag's
// own parser (json.hpp) rather than RapidJSON. Every value's kind and range is
// checked: a wrong kind, a number that does not fit its field or a missing
// member is a serialization_error naming the member's JSON path
// ("$.model.trees.node_left[3]: ..."). Members are read in order, and a named
// member that is not next is looked up by name, as cereal does.

#include <redflag/core/detail/json.hpp>
#include <redflag/core/error.hpp>

#include <cereal/cereal.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace redflag::detail {

// What the archive throws: the fault and its JSON path, without the file's
// name, which the caller adds.
class JsonError : public serialization_error {
 public:
  using serialization_error::serialization_error;
};

class JsonInputArchive : public cereal::InputArchive<JsonInputArchive>, public cereal::traits::TextArchive {
 public:
  // Parses `text` (throws serialization_error naming the fault's line and
  // column); the root must be an object or an array.
  explicit JsonInputArchive(std::string_view text)
      : cereal::InputArchive<JsonInputArchive>(this), root_(parse_root(text)) {
    if (!root_.is(json::Kind::object) && !root_.is(json::Kind::array)) fail("$", "expected an object or an array");
    levels_.push_back({&root_, 0, "$"});
  }

  // The members of the next value (an object or array) become the current level.
  void startNode() {
    search();
    const json::Value& node = current("an object or an array");
    if (!node.is(json::Kind::object) && !node.is(json::Kind::array)) {
      fail(current_path(),
           std::string("expected an object or an array, found ") + std::string(json::kind_name(node.kind())));
    }
    std::string path = current_path();
    levels_.push_back({&node, 0, std::move(path)});
  }

  void finishNode() {
    levels_.pop_back();
    ++levels_.back().index;
  }

  void setNextName(const char* name) { next_name_ = name; }

  // The next member's name; nullptr past the last one or inside an array.
  [[nodiscard]] const char* getNodeName() const {
    const Level& level = levels_.back();
    const auto& keys = level.node->keys();
    return level.index < keys.size() ? keys[level.index].c_str() : nullptr;
  }

  void loadValue(bool& value) {
    const json::Value& node = next_value();
    if (!node.is(json::Kind::boolean)) wrong_kind(node, "a boolean");
    value = node.boolean();
    advance();
  }

  template <class Integer>
    requires(std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>)
  void loadValue(Integer& value) {
    const json::Value& node = next_value();
    if (!node.to_integer(value)) {
      fail(current_path(), "expected an integer in [" + std::to_string(std::numeric_limits<Integer>::min()) + ", " +
                               std::to_string(std::numeric_limits<Integer>::max()) + "], found " + shown(node));
    }
    advance();
  }

  template <class Real>
    requires std::is_floating_point_v<Real>
  void loadValue(Real& value) {
    static_assert(sizeof(Real) <= sizeof(double), "long double is not read from JSON");
    const json::Value& node = next_value();
    double number = 0.0;
    // Outside a float's range the conversion below would be undefined.
    if (!node.to_double(number) ||
        (std::isfinite(number) && std::abs(number) > static_cast<double>(std::numeric_limits<Real>::max()))) {
      fail(current_path(), "expected a number in the range of " + std::string(sizeof(Real) == 4 ? "float" : "double") +
                               ", found " + shown(node));
    }
    value = static_cast<Real>(number);
    advance();
  }

  void loadValue(std::string& value) {
    const json::Value& node = next_value();
    if (!node.is(json::Kind::string)) wrong_kind(node, "a string");
    value = node.text();
    advance();
  }

  // The element count of the array (or object) just started.
  void loadSize(cereal::size_type& size) { size = levels_.back().node->size(); }

 private:
  struct Level {
    const json::Value* node;  // an object or an array
    std::size_t index;        // of the next member or element
    std::string path;
  };

  static json::Value parse_root(std::string_view text) {
    try {
      return json::parse(text, {.allow_non_finite = true});
    } catch (const data_error& failure) {
      throw JsonError(failure.what());
    }
  }

  [[noreturn]] static void fail(const std::string& path, const std::string& what) {
    throw JsonError(path + ": " + what);
  }

  static std::string shown(const json::Value& node) {
    if (node.is(json::Kind::number)) return node.text().size() <= 40 ? node.text() : node.text().substr(0, 40) + "...";
    return std::string(json::kind_name(node.kind()));
  }

  [[noreturn]] void wrong_kind(const json::Value& node, std::string_view expected) const {
    fail(current_path(), "expected " + std::string(expected) + ", found " + shown(node));
  }

  // When a name was given and the next member has another, the member of that
  // name is looked up and reading goes on from there (as cereal's archive).
  void search() {
    const char* name = next_name_;
    next_name_ = nullptr;
    if (name == nullptr) return;
    Level& level = levels_.back();
    if (!level.node->is(json::Kind::object))
      fail(level.path, std::string("expected an object with member '") + name + "'");
    const auto& keys = level.node->keys();
    if (level.index < keys.size() && keys[level.index] == name) return;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == name) {
        level.index = i;
        return;
      }
    }
    fail(level.path, std::string("missing member '") + name + "'");
  }

  [[nodiscard]] std::string current_path() const {
    const Level& level = levels_.back();
    if (level.node->is(json::Kind::object) && level.index < level.node->keys().size()) {
      return level.path + "." + level.node->keys()[level.index];
    }
    return level.path + "[" + std::to_string(level.index) + "]";
  }

  const json::Value& current(std::string_view expected) const {
    const Level& level = levels_.back();
    if (level.index >= level.node->size()) {
      fail(level.path,
           "has " + std::to_string(level.node->size()) + " entries, expected " + std::string(expected) + " after them");
    }
    return level.node->items()[level.index];
  }

  const json::Value& next_value() {
    search();
    return current("a value");
  }

  void advance() { ++levels_.back().index; }

  json::Value root_;
  std::vector<Level> levels_;
  const char* next_name_ = nullptr;
};

// cereal's JSON archive conventions: names and size tags open no node,
// numbers, strings and minimal types are single values, everything else is an
// object or array node.
template <class T>
void prologue(JsonInputArchive&, const cereal::NameValuePair<T>&) {}
template <class T>
void epilogue(JsonInputArchive&, const cereal::NameValuePair<T>&) {}
template <class T>
void prologue(JsonInputArchive&, const cereal::DeferredData<T>&) {}
template <class T>
void epilogue(JsonInputArchive&, const cereal::DeferredData<T>&) {}
template <class T>
void prologue(JsonInputArchive&, const cereal::SizeTag<T>&) {}
template <class T>
void epilogue(JsonInputArchive&, const cereal::SizeTag<T>&) {}

template <class T>
inline constexpr bool opens_json_node =
    !std::is_arithmetic_v<T> &&
    !cereal::traits::has_minimal_base_class_serialization<T, cereal::traits::has_minimal_input_serialization,
                                                          JsonInputArchive>::value &&
    !cereal::traits::has_minimal_input_serialization<T, JsonInputArchive>::value;

template <class T>
  requires opens_json_node<T>
void prologue(JsonInputArchive& archive, const T&) { archive.startNode(); }
template <class T>
  requires opens_json_node<T>
void epilogue(JsonInputArchive& archive, const T&) { archive.finishNode(); }

template <class T>
  requires std::is_arithmetic_v<T>
void prologue(JsonInputArchive&, const T&) {}
template <class T>
  requires std::is_arithmetic_v<T>
void epilogue(JsonInputArchive&, const T&) {}

template <class Char, class Traits, class Alloc>
void prologue(JsonInputArchive&, const std::basic_string<Char, Traits, Alloc>&) {}
template <class Char, class Traits, class Alloc>
void epilogue(JsonInputArchive&, const std::basic_string<Char, Traits, Alloc>&) {}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(JsonInputArchive& archive, cereal::NameValuePair<T>& pair) {
  archive.setNextName(pair.name);
  archive(pair.value);
}

template <class T>
  requires std::is_arithmetic_v<T>
void CEREAL_LOAD_FUNCTION_NAME(JsonInputArchive& archive, T& value) { archive.loadValue(value); }

inline void CEREAL_LOAD_FUNCTION_NAME(JsonInputArchive& archive, std::string& value) { archive.loadValue(value); }

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(JsonInputArchive& archive, cereal::SizeTag<T>& tag) {
  cereal::size_type size = 0;
  archive.loadSize(size);
  tag.size = static_cast<std::remove_reference_t<T>>(size);
}

}  // namespace redflag::detail
