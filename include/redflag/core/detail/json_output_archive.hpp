#pragma once

// A cereal output archive for JSON in the layout of cereal::JSONOutputArchive
// (4-space indented, members named by NVPs or "value0", "value1", ...,
// containers with a size tag as arrays, non-finite numbers as NaN / Infinity /
// -Infinity), without RapidJSON, whose writer has undefined behaviour on every
// document (Debian's 1.1.0).

#include <cereal/cereal.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace redflag::detail {

// Writes JSON as cereal::JSONOutputArchive does, character for character,
// but for numbers RapidJSON's Grisu2 does not give in their closest shortest
// form (0.1 + 0.2: 0.30000000000000004 here, ...07 there; both read back
// exactly).
class JsonOutputArchive : public cereal::OutputArchive<JsonOutputArchive>, public cereal::traits::TextArchive {
 public:
  explicit JsonOutputArchive(std::ostream& out) : cereal::OutputArchive<JsonOutputArchive>(this), out_(out) {
    nodes_.push_back({Node::unopened_object, 0});
  }

  JsonOutputArchive(const JsonOutputArchive&) = delete;
  JsonOutputArchive& operator=(const JsonOutputArchive&) = delete;

  // The root closes here, as cereal's does; a stream error shows on the stream.
  ~JsonOutputArchive() noexcept {
    if (nodes_.back().state == Node::object) close('}');
    if (nodes_.back().state == Node::array) close(']');
    flush();
  }

  // The next value is an object (an array once makeArray is called), opened
  // when its first member is written so that an empty one reads {} or [].
  void startNode() {
    writeName();
    nodes_.push_back({Node::unopened_object, 0});
  }

  void finishNode() {
    switch (nodes_.back().state) {
      case Node::unopened_array: open('['); [[fallthrough]];
      case Node::array: close(']'); break;
      case Node::unopened_object: open('{'); [[fallthrough]];
      case Node::object: close('}'); break;
    }
    nodes_.pop_back();
  }

  void setNextName(const char* name) { next_name_ = name; }
  void makeArray() { nodes_.back().state = Node::unopened_array; }

  // Opens the current node if needed, then writes the next member's name
  // (the NVP's, else "valueN") unless the node is an array.
  void writeName() {
    Level& node = nodes_.back();
    if (node.state == Node::unopened_array) open('[');
    else if (node.state == Node::unopened_object) open('{');
    if (nodes_.back().state == Node::array) return;
    const std::string name = next_name_ != nullptr ? std::string(next_name_) : "value" + std::to_string(node.unnamed++);
    next_name_ = nullptr;
    separate();
    append_string(name);
    buffer_ += ": ";
    value_follows_name_ = true;
  }

  void saveValue(bool value) { scalar(value ? "true" : "false"); }
  void saveValue(const std::string& value) {
    prefix();
    append_string(value);
  }
  void saveValue(std::nullptr_t) { scalar("null"); }

  template <class Integer>
    requires(std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>)
  void saveValue(Integer value) {
    char digits[24];
    const auto result = std::to_chars(digits, digits + sizeof digits, value);
    scalar(std::string_view(digits, static_cast<std::size_t>(result.ptr - digits)));
  }

  template <class Real>
    requires std::is_floating_point_v<Real>
  void saveValue(Real value) {
    static_assert(sizeof(Real) <= sizeof(double), "long double is not written to JSON");
    prefix();
    append_double(static_cast<double>(value));
  }

 private:
  enum class Node { unopened_object, object, unopened_array, array };
  struct Level {
    Node state;
    std::size_t unnamed;      // "valueN" names given so far
    std::size_t written = 0;  // members or elements written
  };

  // PrettyWriter's layout: every member or element on its own line, indented
  // four spaces a level; a value after its name on the same line.
  void separate() {
    Level& level = containers_.back();
    if (level.written++ > 0) buffer_ += ',';
    buffer_ += '\n';
    buffer_.append(4 * containers_.size(), ' ');
  }

  void prefix() {
    if (value_follows_name_) {
      value_follows_name_ = false;
      return;
    }
    if (!containers_.empty()) separate();
  }

  void scalar(std::string_view text) {
    prefix();
    buffer_ += text;
  }

  void open(char bracket) {
    prefix();
    buffer_ += bracket;
    nodes_.back().state = bracket == '{' ? Node::object : Node::array;
    containers_.push_back({nodes_.back().state, 0});
  }

  void close(char bracket) {
    const bool empty = containers_.back().written == 0;
    containers_.pop_back();
    if (!empty) {
      buffer_ += '\n';
      buffer_.append(4 * containers_.size(), ' ');
    }
    buffer_ += bracket;
    if (buffer_.size() > (std::size_t{1} << 16)) flush();
  }

  void flush() {
    out_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    buffer_.clear();
  }

  // RapidJSON's escapes: \" \\ \b \f \n \r \t, other control bytes as \u00XX.
  void append_string(std::string_view text) {
    constexpr char hex[] = "0123456789ABCDEF";
    buffer_ += '"';
    for (const char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      switch (c) {
        case '"': buffer_ += "\\\""; break;
        case '\\': buffer_ += "\\\\"; break;
        case '\b': buffer_ += "\\b"; break;
        case '\f': buffer_ += "\\f"; break;
        case '\n': buffer_ += "\\n"; break;
        case '\r': buffer_ += "\\r"; break;
        case '\t': buffer_ += "\\t"; break;
        default:
          if (byte < 0x20) {
            buffer_ += "\\u00";
            buffer_ += hex[byte >> 4];
            buffer_ += hex[byte & 0xF];
          } else {
            buffer_ += c;
          }
      }
    }
    buffer_ += '"';
  }

  // The shortest digits that read back exactly, laid out as RapidJSON's
  // Prettify does: fixed notation for decimal exponents in (-6, 21], a ".0"
  // on whole numbers, otherwise d.ddde-7 style.
  void append_double(double value) {
    if (std::isnan(value)) {
      buffer_ += "NaN";
      return;
    }
    if (std::isinf(value)) {
      buffer_ += value < 0 ? "-Infinity" : "Infinity";
      return;
    }
    if (std::signbit(value)) buffer_ += '-';
    if (value == 0.0) {
      buffer_ += "0.0";
      return;
    }
    char scientific[32];
    const auto result =
        std::to_chars(scientific, scientific + sizeof scientific, std::abs(value), std::chars_format::scientific);
    const std::string_view text(scientific, static_cast<std::size_t>(result.ptr - scientific));
    const std::size_t e = text.find('e');
    std::string digits(1, text[0]);
    if (e > 2) digits.append(text.substr(2, e - 2));
    int exponent = 0;
    std::from_chars(text.data() + e + (text[e + 1] == '+' ? 2 : 1), text.data() + text.size(), exponent);
    const int length = static_cast<int>(digits.size());
    const int point = exponent + 1;  // digits[0, point) before the decimal point
    if (point >= length && point <= 21) {
      buffer_ += digits;
      buffer_.append(static_cast<std::size_t>(point - length), '0');
      buffer_ += ".0";
    } else if (point > 0 && point <= 21) {
      buffer_.append(digits, 0, static_cast<std::size_t>(point));
      buffer_ += '.';
      buffer_.append(digits, static_cast<std::size_t>(point));
    } else if (point > -6 && point <= 0) {
      buffer_ += "0.";
      buffer_.append(static_cast<std::size_t>(-point), '0');
      buffer_ += digits;
    } else {
      buffer_ += digits[0];
      if (length > 1) {
        buffer_ += '.';
        buffer_.append(digits, 1);
      }
      buffer_ += 'e';
      buffer_ += std::to_string(exponent);
    }
  }

  std::ostream& out_;
  std::vector<Level> nodes_;       // cereal's node states, one per started node
  std::vector<Level> containers_;  // the open JSON objects and arrays
  std::string buffer_;
  const char* next_name_ = nullptr;
  bool value_follows_name_ = false;
};

// cereal's JSON archive conventions when writing: a size tag makes the node
// an array, names and size tags write nothing themselves, a number or string
// first writes its name, everything else is a node.
template <class T>
void prologue(JsonOutputArchive&, const cereal::NameValuePair<T>&) {}
template <class T>
void epilogue(JsonOutputArchive&, const cereal::NameValuePair<T>&) {}
template <class T>
void prologue(JsonOutputArchive&, const cereal::DeferredData<T>&) {}
template <class T>
void epilogue(JsonOutputArchive&, const cereal::DeferredData<T>&) {}
template <class T>
void prologue(JsonOutputArchive& archive, const cereal::SizeTag<T>&) {
  archive.makeArray();
}
template <class T>
void epilogue(JsonOutputArchive&, const cereal::SizeTag<T>&) {}

template <class T>
inline constexpr bool writes_json_node =
    !std::is_arithmetic_v<T> &&
    !cereal::traits::has_minimal_base_class_serialization<T, cereal::traits::has_minimal_output_serialization,
                                                          JsonOutputArchive>::value &&
    !cereal::traits::has_minimal_output_serialization<T, JsonOutputArchive>::value;

template <class T>
  requires writes_json_node<T>
void prologue(JsonOutputArchive& archive, const T&) { archive.startNode(); }
template <class T>
  requires writes_json_node<T>
void epilogue(JsonOutputArchive& archive, const T&) { archive.finishNode(); }

template <class T>
  requires std::is_arithmetic_v<T>
void prologue(JsonOutputArchive& archive, const T&) { archive.writeName(); }
template <class T>
  requires std::is_arithmetic_v<T>
void epilogue(JsonOutputArchive&, const T&) {}
inline void prologue(JsonOutputArchive& archive, const std::nullptr_t&) { archive.writeName(); }
inline void epilogue(JsonOutputArchive&, const std::nullptr_t&) {}

template <class Char, class Traits, class Alloc>
void prologue(JsonOutputArchive& archive, const std::basic_string<Char, Traits, Alloc>&) {
  archive.writeName();
}
template <class Char, class Traits, class Alloc>
void epilogue(JsonOutputArchive&, const std::basic_string<Char, Traits, Alloc>&) {}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(JsonOutputArchive& archive, const cereal::NameValuePair<T>& pair) {
  archive.setNextName(pair.name);
  archive(pair.value);
}

template <class T>
  requires std::is_arithmetic_v<T>
void CEREAL_SAVE_FUNCTION_NAME(JsonOutputArchive& archive, const T& value) { archive.saveValue(value); }

inline void CEREAL_SAVE_FUNCTION_NAME(JsonOutputArchive& archive, const std::nullptr_t& value) {
  archive.saveValue(value);
}

inline void CEREAL_SAVE_FUNCTION_NAME(JsonOutputArchive& archive, const std::string& value) {
  archive.saveValue(value);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(JsonOutputArchive&, const cereal::SizeTag<T>&) {}

}  // namespace redflag::detail
