#pragma once

// What every fuzz target shares: the targets' table, the envelope repair
// that lets mutated model files reach the model's own checks, and the rule
// that only redflag::error may leave a parser.
//
// A checksum is not a signature: a hostile file carries valid ones. So each
// model input is loaded twice, as given (the envelope's own checks) and with
// its header checksum, payload length and payload checksum recomputed (the
// payload's checks, validation and later use).

#include <redflag/core/checksum.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/core/types.hpp>

#include <cereal/archives/portable_binary.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>

namespace redflag::fuzz {

// Each target parses one input and returns normally unless it found a
// defect; any exception that is not a redflag::error escapes and is reported.
using Target = void (*)(std::string_view input);

struct NamedTarget {
  std::string_view name;
  Target run;
};

// `file` with its envelope made consistent with its payload, or `file` as it
// is when its header cannot be read.
inline std::string with_consistent_envelope(std::string_view file) {
  constexpr std::size_t preamble = 16;
  const std::span<const char> bytes(file.data(), file.size());
  if (!detail::has_binary_magic(bytes) || file.size() < preamble + 8) return std::string(file);
  const auto header_bytes = detail::read_little_endian<std::uint32_t>(bytes, 12);
  if (header_bytes > file.size() - preamble - 8) return std::string(file);
  ModelInfo info;
  try {
    detail::BoundedBinaryInputArchive archive(bytes.subspan(preamble, header_bytes));
    archive(info);
  } catch (const error&) {
    return std::string(file);
  }
  const std::string_view payload = file.substr(preamble + header_bytes + 8);
  info.payload_bytes = payload.size();
  info.payload_checksum = detail::Xxh64::hash(std::span<const char>(payload.data(), payload.size()));
  std::ostringstream header_stream(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive archive(header_stream,
                                                cereal::PortableBinaryOutputArchive::Options::LittleEndian());
    archive(info);
  }
  const std::string header = std::move(header_stream).str();
  std::string repaired(file.substr(0, 12));
  detail::write_little_endian(repaired, static_cast<std::uint32_t>(header.size()));
  repaired += header;
  detail::write_little_endian(repaired, detail::Xxh64::hash(header));
  repaired += payload;
  return repaired;
}

// Loads `input` as a Model (as given, then with a consistent envelope) and
// hands every model that loads to `use`; read_info too.
template <class Model, class Use>
void load_and_use(std::string_view input, Use&& use) {
  for (const std::string& file : {std::string(input), with_consistent_envelope(input)}) {
    try {
      std::istringstream in(file, std::ios::binary);
      (void)read_info(in);
    } catch (const error&) {
    }
    try {
      std::istringstream in(file, std::ios::binary);
      Model model = load<Model>(in);
      use(model);
    } catch (const error&) {
    }
  }
}

// A loaded model is used as a service would: scored, then saved again.
// Rows of 0, of 1000 and of -1, as wide as the model's schema (bounded, so
// a claimed million columns costs nothing).
template <Scalar T>
Matrix<T> probe_rows(Index columns) {
  Matrix<T> X(3, columns);
  X.row(0).setZero();
  X.row(1).setConstant(T(1000));
  X.row(2).setConstant(T(-1));
  return X;
}

inline constexpr Index max_probe_columns = 4096;

template <class Model>
void save_again(const Model& model) {
  std::ostringstream binary(std::ios::binary);
  save(model, binary);
  std::ostringstream json;
  save(model, json, Format::json);
}

// Hands probe rows as wide as the model's schema to `apply` (a model that
// refuses them with a redflag::error is fine), then saves the model again.
template <class Model, class Apply>
void probe(const Model& model, Apply&& apply) {
  const Index columns = model.schema().size();
  if (columns >= 1 && columns <= max_probe_columns) {
    try {
      apply(probe_rows<typename Model::scalar_type>(columns));
    } catch (const error&) {
    }
  }
  save_again(model);
}

}  // namespace redflag::fuzz
