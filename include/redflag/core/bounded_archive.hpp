#pragma once

// A cereal input archive for the portable binary format that never trusts a
// length prefix: every size it reads must fit in the bytes that are actually
// left, so a corrupted or hostile model file cannot make redflag allocate more
// memory than the file justifies, and running out of bytes is an error
// naming the offset rather than a read past the end.
//
// It reads what cereal::PortableBinaryOutputArchive writes (a leading
// endianness flag, then fixed-width values, 64-bit size tags).

#include <redflag/core/error.hpp>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/cereal.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

namespace redflag::detail {

class BoundedBinaryInputArchive
    : public cereal::InputArchive<BoundedBinaryInputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit BoundedBinaryInputArchive(std::span<const char> bytes)
      : cereal::InputArchive<BoundedBinaryInputArchive, cereal::AllowEmptyClassElision>(this), bytes_(bytes) {
    std::uint8_t little_endian_flag = 0;
    (*this)(little_endian_flag);
    if (little_endian_flag > 1) fail("invalid endianness flag " + std::to_string(little_endian_flag));
    const bool stream_little = little_endian_flag == 1;
    swap_bytes_ = stream_little != (std::endian::native == std::endian::little);
  }

  template <std::size_t ElementSize>
  void load_binary(void* destination, std::size_t size) {
    if (size > remaining()) {
      fail("needs " + std::to_string(size) + " bytes but only " + std::to_string(remaining()) +
           " are left (truncated or corrupted)");
    }
    if (size == 0) return;  // an empty matrix or vector has no buffer, and memcpy(nullptr, ...) is undefined
    std::memcpy(destination, bytes_.data() + position_, size);
    position_ += size;
    if (swap_bytes_ && ElementSize > 1) {
      auto* bytes = static_cast<unsigned char*>(destination);
      for (std::size_t i = 0; i + ElementSize <= size; i += ElementSize) {
        std::reverse(bytes + i, bytes + i + ElementSize);
      }
    }
  }

  // A container of `count` elements needs at least `count` bytes.
  void check_length_prefix(std::uint64_t count) const {
    if (count > remaining()) {
      fail("length prefix " + std::to_string(count) + " exceeds the " + std::to_string(remaining()) +
           " bytes left (corrupted or hostile file)");
    }
  }

  // A bool is one byte that must be 0 or 1: any other byte copied into a
  // bool is an invalid object, undefined behaviour wherever it is read.
  void load_bool(bool& value) {
    unsigned char byte = 0;
    load_binary<1>(&byte, 1);
    if (byte > 1) {
      --position_;
      fail("invalid bool " + std::to_string(byte) + " (must be 0 or 1)");
    }
    value = byte == 1;
  }

  [[nodiscard]] std::size_t remaining() const { return bytes_.size() - position_; }
  [[nodiscard]] std::size_t position() const { return position_; }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    // The loader prefixes the file name; this says where in the archive.
    throw serialization_error("byte " + std::to_string(position_) + ": " + what);
  }

  std::span<const char> bytes_;
  std::size_t position_ = 0;
  bool swap_bytes_ = false;
};

template <class T>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
void CEREAL_LOAD_FUNCTION_NAME(BoundedBinaryInputArchive& archive, T& value) {
  archive.template load_binary<sizeof(T)>(std::addressof(value), sizeof(T));
}

inline void CEREAL_LOAD_FUNCTION_NAME(BoundedBinaryInputArchive& archive, bool& value) { archive.load_bool(value); }

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(BoundedBinaryInputArchive& archive, cereal::NameValuePair<T>& pair) {
  archive(pair.value);
}

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(BoundedBinaryInputArchive& archive, cereal::SizeTag<T>& tag) {
  archive(tag.size);
  archive.check_length_prefix(static_cast<std::uint64_t>(tag.size));
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(BoundedBinaryInputArchive& archive, cereal::BinaryData<T>& data) {
  using Element = std::remove_pointer_t<T>;
  archive.template load_binary<sizeof(Element)>(data.data, static_cast<std::size_t>(data.size));
}

}  // namespace redflag::detail

CEREAL_REGISTER_ARCHIVE(redflag::detail::BoundedBinaryInputArchive)

// Pairs the archive with the output archive that writes its format, for
// cereal's save/load consistency checks (only this direction: the portable
// binary output archive already maps back to cereal's own input archive).
namespace cereal::traits::detail {
template <>
struct get_output_from_input<redflag::detail::BoundedBinaryInputArchive> {
  using type = cereal::PortableBinaryOutputArchive;
};
}  // namespace cereal::traits::detail
