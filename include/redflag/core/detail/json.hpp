#pragma once

// A strict JSON reader (RFC 8259) for outside data: model files, manifests and
// rule files. redflag reads JSON with its own parser rather than RapidJSON
// (which cereal's JSON archive brings) because Debian's RapidJSON 1.1.0 has
// undefined behaviour on ordinary input. This one is small enough to check:
//
//   - bounded: nesting deeper than max_depth is an error (never a stack
//     overflow); the tree is linear in the input's size; nothing is read past
//     the end;
//   - exact: numbers keep their text and convert on request with
//     std::from_chars (correctly rounded doubles, range-checked integers);
//   - located: every error names the line, column and byte offset.
//
// Beyond RFC 8259 it accepts the bare tokens NaN, Infinity and -Infinity,
// which cereal writes for non-finite floating-point values, only when asked.

#include <redflag/core/error.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace redflag::detail::json {

enum class Kind : std::uint8_t { null, boolean, number, string, array, object };

constexpr std::string_view kind_name(Kind kind) {
  constexpr std::string_view names[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
  return names[static_cast<std::size_t>(kind)];
}

// One JSON value. An object keeps its members in file order (keys[i] names
// items[i]), duplicates included: whoever reads it decides whether they are
// an error.
class Value {
 public:
  [[nodiscard]] Kind kind() const { return kind_; }
  [[nodiscard]] bool is(Kind kind) const { return kind_ == kind; }
  [[nodiscard]] bool boolean() const { return boolean_; }
  // A string's decoded bytes, or a number's literal text.
  [[nodiscard]] const std::string& text() const { return text_; }
  [[nodiscard]] const std::vector<Value>& items() const { return items_; }
  [[nodiscard]] const std::vector<std::string>& keys() const { return keys_; }
  [[nodiscard]] std::size_t size() const { return items_.size(); }

  // The member named `key` (the first, if repeated), or nullptr.
  [[nodiscard]] const Value* find(std::string_view key) const {
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i] == key) return &items_[i];
    }
    return nullptr;
  }

  // A number as a double; false when it is out of double's range (or, with
  // allow_non_finite, one of the non-finite tokens, converted).
  [[nodiscard]] bool to_double(double& out) const {
    if (kind_ != Kind::number) return false;
    if (text_ == "NaN") out = std::numeric_limits<double>::quiet_NaN();
    else if (text_ == "Infinity") out = std::numeric_limits<double>::infinity();
    else if (text_ == "-Infinity") out = -std::numeric_limits<double>::infinity();
    else {
      const auto [end, status] = std::from_chars(text_.data(), text_.data() + text_.size(), out);
      return status == std::errc() && end == text_.data() + text_.size();
    }
    return true;
  }

  // A number as an integer of type Integer; false when it has a fraction or
  // exponent, or does not fit.
  template <class Integer>
    requires std::is_integral_v<Integer>
  [[nodiscard]] bool to_integer(Integer& out) const {
    if (kind_ != Kind::number) return false;
    const auto [end, status] = std::from_chars(text_.data(), text_.data() + text_.size(), out);
    return status == std::errc() && end == text_.data() + text_.size();
  }

 private:
  friend class Parser;
  Kind kind_ = Kind::null;
  bool boolean_ = false;
  std::string text_;
  std::vector<Value> items_;
  std::vector<std::string> keys_;
};

struct ParseOptions {
  // Nesting depth at which parsing stops with an error; far above what
  // redflag writes, far below what would exhaust a thread's stack.
  std::size_t max_depth = 256;
  bool allow_non_finite = false;  // NaN, Infinity, -Infinity as numbers
};

class Parser {
 public:
  Parser(std::string_view text, ParseOptions options) : text_(text), options_(options) {}

  // The document's single value; throws data_error "JSON line L, column C
  // (byte B): <what>" at the first fault.
  Value parse() {
    Value root;
    skip_space();
    value(root, 0);
    skip_space();
    if (at_ < text_.size()) fail("unexpected text after the JSON value");
    return root;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < at_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw data_error("JSON line " + std::to_string(line) + ", column " + std::to_string(column) + " (byte " +
                     std::to_string(at_) + "): " + std::string(what));
  }

  [[nodiscard]] bool done() const { return at_ >= text_.size(); }
  [[nodiscard]] char peek() const { return text_[at_]; }

  void skip_space() {
    while (!done() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++at_;
  }

  bool consume(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  void value(Value& out, std::size_t depth) {
    if (done()) fail("unexpected end of input, expected a value");
    switch (peek()) {
      case '{': return object(out, depth + 1);
      case '[': return array(out, depth + 1);
      case '"': out.kind_ = Kind::string; return string(out.text_);
      case 't':
      case 'f':
      case 'n':
        if (consume("true")) {
          out.kind_ = Kind::boolean;
          out.boolean_ = true;
        } else if (consume("false")) {
          out.kind_ = Kind::boolean;
        } else if (consume("null")) {
          out.kind_ = Kind::null;
        } else {
          fail("invalid literal");
        }
        return;
      default: return number(out);
    }
  }

  void enter(std::size_t depth) {
    if (depth > options_.max_depth) fail("nesting deeper than " + std::to_string(options_.max_depth) + " levels");
    ++at_;
    skip_space();
  }

  void object(Value& out, std::size_t depth) {
    enter(depth);
    out.kind_ = Kind::object;
    if (!done() && peek() == '}') {
      ++at_;
      return;
    }
    while (true) {
      if (done() || peek() != '"') fail("expected a member name in double quotes");
      out.keys_.emplace_back();
      string(out.keys_.back());
      skip_space();
      if (done() || peek() != ':') fail("expected ':' after the member name");
      ++at_;
      skip_space();
      out.items_.emplace_back();
      value(out.items_.back(), depth);
      skip_space();
      if (done()) fail("unexpected end of input inside an object");
      if (peek() == '}') {
        ++at_;
        return;
      }
      if (peek() != ',') fail("expected ',' or '}' in an object");
      ++at_;
      skip_space();
    }
  }

  void array(Value& out, std::size_t depth) {
    enter(depth);
    out.kind_ = Kind::array;
    if (!done() && peek() == ']') {
      ++at_;
      return;
    }
    while (true) {
      out.items_.emplace_back();
      value(out.items_.back(), depth);
      skip_space();
      if (done()) fail("unexpected end of input inside an array");
      if (peek() == ']') {
        ++at_;
        return;
      }
      if (peek() != ',') fail("expected ',' or ']' in an array");
      ++at_;
      skip_space();
    }
  }

  // RFC 8259 number grammar; the text is kept for exact conversion later.
  void number(Value& out) {
    const std::size_t start = at_;
    out.kind_ = Kind::number;
    if (options_.allow_non_finite && (consume("NaN") || consume("Infinity") || consume("-Infinity"))) {
      out.text_ = std::string(text_.substr(start, at_ - start));
      return;
    }
    const auto digits = [&] {
      const std::size_t first = at_;
      while (!done() && peek() >= '0' && peek() <= '9') ++at_;
      return at_ - first;
    };
    if (!done() && peek() == '-') ++at_;
    if (done() || peek() < '0' || peek() > '9') fail("expected a value");
    if (peek() == '0') ++at_;
    else digits();
    if (!done() && peek() == '.') {
      ++at_;
      if (digits() == 0) fail("expected a digit after the decimal point");
    }
    if (!done() && (peek() == 'e' || peek() == 'E')) {
      ++at_;
      if (!done() && (peek() == '+' || peek() == '-')) ++at_;
      if (digits() == 0) fail("expected a digit in the exponent");
    }
    out.text_ = std::string(text_.substr(start, at_ - start));
  }

  unsigned hex4() {
    if (text_.size() - at_ < 4) fail("truncated \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[at_++];
      code <<= 4;
      if (c >= '0' && c <= '9') code |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') code |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') code |= static_cast<unsigned>(c - 'A' + 10);
      else fail("invalid hex digit in a \\u escape");
    }
    return code;
  }

  static void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }

  // Decodes a string's escapes; other bytes are kept as they are (redflag
  // writes strings byte for byte, so they read back byte for byte).
  void string(std::string& out) {
    ++at_;  // the opening quote
    while (true) {
      if (done()) fail("unterminated string");
      const char c = text_[at_++];
      if (c == '"') return;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (done()) fail("unterminated string");
      switch (text_[at_++]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned code = hex4();
          if (code >= 0xD800 && code <= 0xDBFF) {
            if (!consume("\\u")) fail("a high surrogate must be followed by a \\u low surrogate");
            const unsigned low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("invalid low surrogate");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code <= 0xDFFF) {
            fail("a low surrogate without a high one");
          }
          append_utf8(out, code);
          break;
        }
        default: --at_; fail("invalid escape in a string");
      }
    }
  }

  std::string_view text_;
  ParseOptions options_;
  std::size_t at_ = 0;
};

inline Value parse(std::string_view text, ParseOptions options = {}) { return Parser(text, options).parse(); }

}  // namespace redflag::detail::json
