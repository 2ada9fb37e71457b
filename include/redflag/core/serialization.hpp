#pragma once

// Versioned model files. redflag::save writes a model inside an envelope that
// says what the file holds before anything is loaded:
//
//   magic "\x89RFLG\r\n\x1a" | u32 envelope version | u32 header length | header |
//   u64 XXH64 of header | payload (cereal portable binary, little-endian)
//
// The header records the library version, the model type and its format
// version, the scalar type, the input schema, and the payload's length and
// XXH64 checksum. JSON files (for inspection) hold the same header as the
// object "redflag_envelope" next to the model; their checksum covers the
// model's portable binary encoding, recomputed after loading.
//
// redflag::load<Model> checks everything it can before touching the payload,
// and reports any mismatch, truncation or corruption as serialization_error.
// redflag::save to a path writes through write_file_atomically (temporary
// file, fsync, rename), so a crash never leaves a half-written model; a file
// system failure is an io_error.

#include <redflag/core/atomic_file.hpp>
#include <redflag/core/bounded_archive.hpp>
#include <redflag/core/checksum.hpp>
#include <redflag/core/detail/json_archive.hpp>
#include <redflag/core/eigen_cereal.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/types.hpp>
#include <redflag/version.hpp>

#include <cereal/archives/portable_binary.hpp>
#include <cereal/cereal.hpp>
#include <cereal/types/string.hpp>

#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <istream>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>

namespace redflag {

enum class Format : std::uint8_t {
  portable_binary,  // compact, exact, independent of the platform's endianness
  json,             // human-readable, for inspection and diffs
};

// What a model file says about itself (`redflag info MODEL` prints it).
struct ModelInfo {
  Format format = Format::portable_binary;
  std::uint32_t envelope_version = 0;
  std::string library_version;
  std::string model_type;
  std::uint32_t model_format_version = 0;
  std::string scalar;
  Schema schema;
  std::uint64_t payload_bytes = 0;  // portable binary encoding of the model
  std::uint64_t payload_checksum = 0;
  std::uint64_t file_bytes = 0;

  template <class Archive>
  void serialize(Archive& archive) {
    archive(cereal::make_nvp("library_version", library_version), cereal::make_nvp("model_type", model_type),
            cereal::make_nvp("model_format_version", model_format_version), cereal::make_nvp("scalar", scalar),
            cereal::make_nvp("schema", schema), cereal::make_nvp("payload_bytes", payload_bytes),
            cereal::make_nvp("payload_checksum", payload_checksum));
  }
};

// A model redflag::save and redflag::load can handle: it names its type and
// format version, records the schema it was fitted on, and serializes itself
// with cereal (`version` is the format version read from the file).
template <class Model>
concept SerializableModel = requires(const Model& model) {
  typename Model::scalar_type;
  requires Scalar<typename Model::scalar_type>;
  { Model::model_type } -> std::convertible_to<std::string_view>;
  { Model::format_version } -> std::convertible_to<std::uint32_t>;
  { model.schema() } -> std::convertible_to<const Schema&>;
}
&&requires(Model& model, cereal::PortableBinaryOutputArchive& archive) { model.serialize(archive, std::uint32_t{}); };

namespace detail {

inline constexpr std::array<char, 8> model_magic = {'\x89', 'R', 'F', 'L', 'G', '\r', '\n', '\x1a'};
inline constexpr std::uint32_t envelope_version = 1;
inline constexpr std::uint32_t max_header_bytes = 16u << 20;
inline constexpr std::string_view json_envelope_key = "redflag_envelope";

// Lets cereal serialize a model with the format version from the envelope
// rather than cereal's own per-type version numbers.
template <class Model>
struct VersionedModel {
  Model& model;
  std::uint32_t version;
  template <class Archive>
  void serialize(Archive& archive) {
    model.serialize(archive, version);
  }
};

// Every component's serialize(archive, version) starts with this: version 0
// (a model archived without redflag's envelope, or a corrupted header) and
// versions newer than this build's are refused, naming the model type and
// both numbers. Versions 1 to `known` are the component's to read.
inline void check_format_version(std::string_view model_type, std::uint32_t found, std::uint32_t known) {
  if (found >= 1 && found <= known) return;
  throw serialization_error("redflag::load: " + std::string(model_type) + " format version " + std::to_string(found) +
                            (found == 0 ? " is not a valid version" : " is newer than this build supports") +
                            " (this build reads versions 1 to " + std::to_string(known) + ")");
}

[[noreturn]] inline void fail_load(std::string_view source, std::string_view what) {
  // Errors raised while reading a part already say where they happened;
  // avoid repeating "redflag::load: " when wrapping them with the file name.
  constexpr std::string_view prefix = "redflag::load: ";
  if (what.starts_with(prefix)) what.remove_prefix(prefix.size());
  throw serialization_error("redflag::load: " + std::string(source) + ": " + std::string(what));
}

// Archive errors say "byte N: ..." relative to the part being read.
inline std::string located(std::string_view part, const serialization_error& failure) {
  const std::string_view what = failure.what();
  return what.starts_with("byte ") ? std::string(part) + " " + std::string(what) : std::string(what);
}

template <class Value>
void write_little_endian(std::string& out, Value value) {
  for (std::size_t i = 0; i < sizeof(Value); ++i) {
    out.push_back(static_cast<char>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xFF));
  }
}

template <class Value>
Value read_little_endian(std::span<const char> bytes, std::size_t offset) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < sizeof(Value); ++i) {
    value |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return static_cast<Value>(value);
}

// `version` is the format to encode; older than Model::format_version only
// when re-encoding a model loaded from an older file to verify its checksum.
template <SerializableModel Model>
std::string portable_binary_payload(const Model& model, std::uint32_t version = Model::format_version) {
  std::ostringstream stream(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive archive(stream, cereal::PortableBinaryOutputArchive::Options::LittleEndian());
    VersionedModel<Model> versioned{const_cast<Model&>(model), version};
    archive(versioned);
  }
  return std::move(stream).str();
}

template <SerializableModel Model>
ModelInfo describe(const Model& model, const std::string& payload) {
  ModelInfo info;
  info.envelope_version = envelope_version;
  info.library_version = std::string(version_string);
  info.model_type = std::string(Model::model_type);
  info.model_format_version = Model::format_version;
  info.scalar = std::string(scalar_name<typename Model::scalar_type>);
  info.schema = model.schema();
  info.payload_bytes = payload.size();
  info.payload_checksum = Xxh64::hash(payload);
  return info;
}

inline std::string read_all(std::istream& in) {
  std::string bytes;
  std::array<char, 1 << 16> chunk{};
  while (in) {
    in.read(chunk.data(), chunk.size());
    bytes.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
  }
  return bytes;
}

// A binary file split into its parts, with every length checked against the
// bytes that are really there.
struct BinaryEnvelope {
  ModelInfo info;
  std::span<const char> payload;
};

inline BinaryEnvelope parse_binary_envelope(std::span<const char> file, std::string_view source) {
  const std::size_t preamble = model_magic.size() + 2 * sizeof(std::uint32_t);
  if (file.size() < preamble) {
    fail_load(source, "file is truncated (" + std::to_string(file.size()) +
                          " bytes, a model file starts with at least " + std::to_string(preamble) + ")");
  }
  BinaryEnvelope envelope;
  envelope.info.format = Format::portable_binary;
  envelope.info.file_bytes = file.size();
  envelope.info.envelope_version = read_little_endian<std::uint32_t>(file, model_magic.size());
  if (envelope.info.envelope_version == 0 || envelope.info.envelope_version > envelope_version) {
    fail_load(source, "envelope format version " + std::to_string(envelope.info.envelope_version) +
                          " is not supported (this build of redflag " + std::string(version_string) +
                          " reads version " + std::to_string(envelope_version) + ")");
  }
  const auto header_bytes = read_little_endian<std::uint32_t>(file, model_magic.size() + 4);
  const std::size_t left = file.size() - preamble;
  if (header_bytes > max_header_bytes || header_bytes + sizeof(std::uint64_t) > left) {
    fail_load(source, "header length " + std::to_string(header_bytes) + " exceeds the " + std::to_string(left) +
                          " bytes left in the file (truncated or corrupted)");
  }
  const auto header = file.subspan(preamble, header_bytes);
  const auto stored_header_checksum = read_little_endian<std::uint64_t>(file, preamble + header_bytes);
  if (Xxh64::hash(header) != stored_header_checksum) {
    fail_load(source, "header checksum mismatch (file corrupted)");
  }
  try {
    BoundedBinaryInputArchive archive(header);
    archive(envelope.info);
  } catch (const serialization_error& failure) {
    fail_load(source, located("header", failure));
  } catch (const cereal::Exception& failure) {
    fail_load(source, std::string("header: ") + failure.what());
  }
  const std::size_t payload_offset = preamble + header_bytes + sizeof(std::uint64_t);
  const std::size_t payload_left = file.size() - payload_offset;
  if (envelope.info.payload_bytes != payload_left) {
    fail_load(source, "payload is " + std::to_string(payload_left) + " bytes but the header says " +
                          std::to_string(envelope.info.payload_bytes) +
                          (payload_left < envelope.info.payload_bytes ? " (truncated)" : " (trailing bytes)"));
  }
  envelope.payload = file.subspan(payload_offset);
  if (Xxh64::hash(envelope.payload) != envelope.info.payload_checksum) {
    fail_load(source, "payload checksum mismatch (file corrupted)");
  }
  return envelope;
}

inline bool looks_like_json(std::span<const char> file) {
  for (const char c : file) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{';
  }
  return false;
}

inline bool has_binary_magic(std::span<const char> file) {
  return file.size() >= model_magic.size() && std::equal(model_magic.begin(), model_magic.end(), file.begin());
}

inline ModelInfo parse_json_envelope(const std::string& file, std::string_view source) {
  ModelInfo info;
  std::string magic;
  try {
    JsonInputArchive archive(file);
    archive.setNextName(json_envelope_key.data());
    archive.startNode();
    archive(cereal::make_nvp("magic", magic));
    if (magic == "redflag-model") {
      archive(cereal::make_nvp("envelope_version", info.envelope_version));
      info.serialize(archive);
      archive.finishNode();
    }
  } catch (const std::exception& failure) {
    fail_load(source, std::string("malformed JSON envelope: ") + failure.what());
  }
  if (magic != "redflag-model") fail_load(source, "JSON file is not a redflag model (magic '" + magic + "')");
  if (info.envelope_version == 0 || info.envelope_version > envelope_version) {
    fail_load(source, "envelope format version " + std::to_string(info.envelope_version) +
                          " is not supported (this build reads version " + std::to_string(envelope_version) + ")");
  }
  info.format = Format::json;
  info.file_bytes = file.size();
  return info;
}

inline ModelInfo read_info(std::span<const char> file, const std::string& text, std::string_view source) {
  if (file.empty()) fail_load(source, "file is empty");
  if (has_binary_magic(file)) return parse_binary_envelope(file, source).info;
  if (looks_like_json(file)) return parse_json_envelope(text, source);
  fail_load(source, "not a redflag model file (bad magic bytes)");
}

template <SerializableModel Model>
void require_compatible(const ModelInfo& info, std::string_view source) {
  if (info.model_type != Model::model_type) {
    fail_load(source, "file holds a '" + info.model_type + "', expected '" + std::string(Model::model_type) + "'");
  }
  const std::string_view expected_scalar = scalar_name<typename Model::scalar_type>;
  if (info.scalar != expected_scalar) {
    fail_load(source, "file holds " + info.scalar + " parameters, expected " + std::string(expected_scalar));
  }
  try {
    check_format_version(Model::model_type, info.model_format_version, Model::format_version);
  } catch (const serialization_error& failure) {
    fail_load(source, std::string(failure.what()) + "; written by redflag " + info.library_version);
  }
}

template <SerializableModel Model>
void require_matching_schema(const Model& model, const ModelInfo& info, std::string_view source) {
  if (!(model.schema() == info.schema)) {
    fail_load(source, "the model's schema (" + model.schema().describe() + ") differs from the envelope's (" +
                          info.schema.describe() + ")");
  }
}

template <SerializableModel Model>
Model load_bytes(const std::string& file, std::string_view source) {
  const std::span<const char> bytes(file.data(), file.size());
  // Binary files are split and checksummed once; the payload span is reused.
  BinaryEnvelope envelope;
  if (has_binary_magic(bytes)) {
    envelope = parse_binary_envelope(bytes, source);
  } else {
    envelope.info = read_info(bytes, file, source);
  }
  const ModelInfo& info = envelope.info;
  require_compatible<Model>(info, source);
  Model model;
  if (info.format == Format::portable_binary) {
    std::size_t unconsumed = 0;
    try {
      BoundedBinaryInputArchive archive(envelope.payload);
      VersionedModel<Model> versioned{model, info.model_format_version};
      archive(versioned);
      unconsumed = archive.remaining();
    } catch (const serialization_error& failure) {
      fail_load(source, located("payload", failure));
    } catch (const std::exception& failure) {
      fail_load(source, std::string("payload: ") + failure.what());
    }
    if (unconsumed != 0) fail_load(source, std::to_string(unconsumed) + " payload bytes were not consumed");
  } else {
    try {
      JsonInputArchive archive(file);
      VersionedModel<Model> versioned{model, info.model_format_version};
      archive(cereal::make_nvp("model", versioned));
    } catch (const serialization_error& failure) {
      fail_load(source, failure.what());
    } catch (const std::exception& failure) {
      fail_load(source, std::string("model: ") + failure.what());
    }
    // JSON numbers are exact for our floats, so the binary encoding of the
    // loaded model, in the file's format version, must have the length and
    // hash recorded at save time.
    const std::string payload = portable_binary_payload(model, info.model_format_version);
    if (payload.size() != info.payload_bytes || Xxh64::hash(payload) != info.payload_checksum) {
      fail_load(source, "checksum mismatch: the model differs from the one that was saved");
    }
  }
  require_matching_schema(model, info, source);
  return model;
}

}  // namespace detail

// Writes `model` to `out` inside the envelope. Throws serialization_error if
// the stream fails.
template <SerializableModel Model>
void save(const Model& model, std::ostream& out, Format format = Format::portable_binary) {
  const std::string payload = detail::portable_binary_payload(model);
  ModelInfo info = detail::describe(model, payload);
  if (format == Format::portable_binary) {
    std::ostringstream header_stream(std::ios::binary);
    {
      cereal::PortableBinaryOutputArchive archive(header_stream,
                                                  cereal::PortableBinaryOutputArchive::Options::LittleEndian());
      archive(info);
    }
    const std::string header = std::move(header_stream).str();
    std::string preamble(detail::model_magic.begin(), detail::model_magic.end());
    detail::write_little_endian(preamble, detail::envelope_version);
    detail::write_little_endian(preamble, static_cast<std::uint32_t>(header.size()));
    std::string header_checksum;
    detail::write_little_endian(header_checksum, detail::Xxh64::hash(header));
    out.write(preamble.data(), static_cast<std::streamsize>(preamble.size()));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(header_checksum.data(), static_cast<std::streamsize>(header_checksum.size()));
    out.write(payload.data(), static_cast<std::streamsize>(payload.size()));
  } else {
    detail::JsonOutputArchive archive(out);
    archive.setNextName(detail::json_envelope_key.data());
    archive.startNode();
    archive(cereal::make_nvp("magic", std::string("redflag-model")),
            cereal::make_nvp("envelope_version", detail::envelope_version));
    info.serialize(archive);
    archive.finishNode();
    detail::VersionedModel<Model> versioned{const_cast<Model&>(model), Model::format_version};
    archive(cereal::make_nvp("model", versioned));
  }
  if (!out) throw serialization_error("redflag::save: writing " + std::string(Model::model_type) + " failed");
}

// Writes the model file through write_file_atomically: after a crash `path`
// holds either its old content or the complete new model. Throws io_error when
// the file system refuses a step.
template <SerializableModel Model>
void save(const Model& model, const std::filesystem::path& path, Format format = Format::portable_binary) {
  std::ostringstream bytes(std::ios::binary);
  save(model, bytes, format);
  detail::write_file_atomically(path, std::move(bytes).str(), "save");
}

template <SerializableModel Model>
Model load(std::istream& in, std::string_view source = "<stream>") {
  return detail::load_bytes<Model>(detail::read_all(in), source);
}

template <SerializableModel Model>
Model load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) detail::raise<io_error>("load", "cannot open '" + path.string() + "'");
  return detail::load_bytes<Model>(detail::read_all(in), path.string());
}

// Reads and checks the envelope only (type, versions, scalar, schema, sizes).
inline ModelInfo read_info(std::istream& in, std::string_view source = "<stream>") {
  const std::string file = detail::read_all(in);
  return detail::read_info(std::span<const char>(file.data(), file.size()), file, source);
}

inline ModelInfo read_info(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) detail::raise<io_error>("read_info", "cannot open '" + path.string() + "'");
  return read_info(in, path.string());
}

constexpr std::string_view to_string(Format format) {
  return format == Format::portable_binary ? "portable_binary" : "json";
}

}  // namespace redflag
