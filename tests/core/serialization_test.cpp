#include <redflag/core/serialization.hpp>

#include <doctest/doctest.h>
#include <cereal/types/optional.hpp>

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../support/allocation_tracker.hpp"

using redflag::test::largest_allocation;

namespace fs = std::filesystem;
using redflag::ColumnKind;
using redflag::Format;
using redflag::Index;
using redflag::Matrix;
using redflag::Schema;
using redflag::serialization_error;

namespace {

// A model with every kind of member a real one has.
template <redflag::Scalar T>
struct Ledger {
  using scalar_type = T;
  static constexpr std::string_view model_type = "Ledger";
  static constexpr std::uint32_t format_version = 1;

  Matrix<T> weights;
  std::vector<double> history;
  std::string label;
  Schema columns;

  [[nodiscard]] const Schema& schema() const { return columns; }
  template <class Archive>
  void serialize(Archive& archive, std::uint32_t /*version*/) {
    archive(cereal::make_nvp("weights", weights), cereal::make_nvp("history", history),
            cereal::make_nvp("label", label), cereal::make_nvp("schema", columns));
  }
};

// Format 2 of the same model adds `bias`; it still reads format 1 files.
template <redflag::Scalar T>
struct LedgerV2 : Ledger<T> {
  static constexpr std::uint32_t format_version = 2;
  T bias = T(0);
  template <class Archive>
  void serialize(Archive& archive, std::uint32_t version) {
    Ledger<T>::serialize(archive, version);
    if (version >= 2) archive(cereal::make_nvp("bias", bias));
    else bias = T(0);  // format 1 had no bias
  }
};

// Another model type; with `unwritable` set its serialize fails while saving.
struct Other {
  using scalar_type = double;
  static constexpr std::string_view model_type = "Other";
  static constexpr std::uint32_t format_version = 1;
  Schema columns = Schema::numeric(2);
  bool unwritable = false;
  [[nodiscard]] const Schema& schema() const { return columns; }
  template <class Archive>
  void serialize(Archive& archive, std::uint32_t) {
    if (unwritable) throw std::runtime_error("Other cannot be saved");
    archive(cereal::make_nvp("schema", columns));
  }
};

// A model with a bool and an optional (cereal writes its presence as a bool).
struct Switch {
  using scalar_type = double;
  static constexpr std::string_view model_type = "Switch";
  static constexpr std::uint32_t format_version = 1;
  bool on = true;
  std::optional<double> limit = 2.5;
  Schema columns = Schema::numeric(1);
  [[nodiscard]] const Schema& schema() const { return columns; }
  template <class Archive>
  void serialize(Archive& archive, std::uint32_t) {
    archive(cereal::make_nvp("on", on), cereal::make_nvp("limit", limit), cereal::make_nvp("schema", columns));
  }
};

static_assert(redflag::SerializableModel<Ledger<float>>);
static_assert(redflag::SerializableModel<LedgerV2<double>>);
static_assert(!redflag::SerializableModel<int>);
static_assert(!redflag::SerializableModel<Schema>);

template <redflag::Scalar T>
Ledger<T> make_ledger(Index rows = 3, Index cols = 2) {
  Ledger<T> model;
  model.weights.resize(rows, cols);
  for (Index i = 0; i < model.weights.size(); ++i)
    model.weights.data()[i] = T(0.1) * static_cast<T>(i * i) - T(1) / T(3);
  model.weights(0, 0) = T(0.375);  // a number easy to find in the JSON text
  model.history = {0.1,
                   -0.0,
                   1e300,
                   std::numeric_limits<double>::denorm_min(),
                   std::numeric_limits<double>::max(),
                   std::numeric_limits<double>::lowest(),
                   -2.5};
  model.label = "card \"7\"\n\tcaf\xc3\xa9";
  std::vector<redflag::Column> columns;
  for (Index c = 0; c < cols; ++c) {
    columns.push_back({"f" + std::to_string(c), c % 2 == 0 ? ColumnKind::numeric : ColumnKind::timestamp_derived});
  }
  model.columns = Schema(columns);
  return model;
}

template <class Model>
void check_same(const Model& loaded, const Model& saved) {
  REQUIRE((loaded.weights.rows() == saved.weights.rows() && loaded.weights.cols() == saved.weights.cols()));
  CHECK(loaded.weights == saved.weights);
  REQUIRE(loaded.history.size() == saved.history.size());
  for (std::size_t i = 0; i < saved.history.size(); ++i) {  // bit-exact, -0.0 included
    CHECK(std::bit_cast<std::uint64_t>(loaded.history[i]) == std::bit_cast<std::uint64_t>(saved.history[i]));
  }
  CHECK(loaded.label == saved.label);
  CHECK(loaded.schema() == saved.schema());
}

fs::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::path(REDFLAG_TEST_SCRATCH_DIR) / "serialization" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_file(const fs::path& path, const std::string& bytes) {
  // A fresh file rather than a truncated one: ext4 flushes truncate-and-rewrite
  // to disk on close, which would make the loops below crawl.
  fs::remove(path);
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// Writes `bytes` to `path` and loads it by path: the error message, or "loaded".
template <class Model>
std::string load_failure(const fs::path& path, const std::string& bytes) {
  write_file(path, bytes);
  try {
    static_cast<void>(redflag::load<Model>(path));
  } catch (const serialization_error& failure) {
    return failure.what();
  }
  return "loaded";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

template <class Model>
std::string saved_bytes(const Model& model, Format format = Format::portable_binary) {
  std::ostringstream out(std::ios::binary);
  redflag::save(model, out, format);
  return std::move(out).str();
}

template <class Model>
Model from_bytes(const std::string& bytes, std::string_view source = "<stream>") {
  std::istringstream in(bytes, std::ios::binary);
  return redflag::load<Model>(in, source);
}

std::uint64_t u64_at(const std::string& bytes, std::size_t offset) {
  return redflag::detail::read_little_endian<std::uint64_t>(std::span<const char>(bytes.data(), bytes.size()), offset);
}
void set_u64(std::string& bytes, std::size_t offset, std::uint64_t value) {
  for (std::size_t i = 0; i < 8; ++i) bytes[offset + i] = static_cast<char>((value >> (8 * i)) & 0xFF);
}

// Builds a binary model file by hand from the documented layout:
// magic | u32 envelope version | u32 header length | header | u64 XXH64(header) | payload.
std::string assemble(const redflag::ModelInfo& info, const std::string& payload) {
  std::ostringstream header_stream(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive archive(header_stream,
                                                cereal::PortableBinaryOutputArchive::Options::LittleEndian());
    archive(const_cast<redflag::ModelInfo&>(info));
  }
  const std::string header = std::move(header_stream).str();
  std::string file("\x89RFLG\r\n\x1a", 8);
  redflag::detail::write_little_endian(file, std::uint32_t{1});
  redflag::detail::write_little_endian(file, static_cast<std::uint32_t>(header.size()));
  file += header;
  redflag::detail::write_little_endian(file, redflag::detail::Xxh64::hash(header));
  return file + payload;
}

// A file whose payload was replaced and whose checksums were all recomputed,
// as a careful attacker (or a buggy writer) would produce.
template <class Model>
std::string with_payload(const Model& model, const std::string& payload) {
  return assemble(redflag::detail::describe(model, payload), payload);
}

template <class Model>
std::string payload_of(const Model& model) {
  return redflag::detail::portable_binary_payload(model);
}

// Offsets inside a Ledger payload: endianness flag, then the matrix (element
// count, rows, cols, values), then the history's length prefix.
constexpr std::size_t matrix_count_offset = 1;
constexpr std::size_t matrix_rows_offset = 9;
template <class T>
std::size_t history_prefix_offset(const Ledger<T>& model) {
  return 25 + static_cast<std::size_t>(model.weights.size()) * sizeof(T);
}

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(text.find(from, at + 1) == std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE_TEMPLATE("round trip through streams, binary and JSON", T, float, double) {
  const Ledger<T> model = make_ledger<T>();
  const std::string binary = saved_bytes(model);
  CHECK(binary.substr(0, 8) == std::string("\x89RFLG\r\n\x1a", 8));
  check_same(from_bytes<Ledger<T>>(binary), model);

  const std::string json = saved_bytes(model, Format::json);
  CHECK(json.find("\"magic\": \"redflag-model\"") != std::string::npos);
  CHECK(json.find("\"scalar\": \"" + std::string(redflag::scalar_name<T>) + "\"") != std::string::npos);
  check_same(from_bytes<Ledger<T>>(json), model);

  // Edge shapes: an empty matrix, empty containers.
  Ledger<T> empty;
  check_same(from_bytes<Ledger<T>>(saved_bytes(empty)), empty);
  check_same(from_bytes<Ledger<T>>(saved_bytes(empty, Format::json)), empty);

  // Saving is deterministic.
  CHECK(saved_bytes(model) == binary);
  CHECK(saved_bytes(model, Format::json) == json);
}

TEST_CASE_TEMPLATE("round trip through files leaves no temporary file behind", T, float, double) {
  const fs::path dir = scratch_dir(std::string("files_") + std::string(redflag::scalar_name<T>));
  const Ledger<T> model = make_ledger<T>();
  redflag::save(model, dir / "model.rfm");
  redflag::save(model, dir / "model.json", Format::json);
  check_same(redflag::load<Ledger<T>>(dir / "model.rfm"), model);
  check_same(redflag::load<Ledger<T>>(dir / "model.json"), model);
  CHECK(read_file(dir / "model.rfm") == saved_bytes(model));

  // Overwriting replaces the file.
  const Ledger<T> bigger = make_ledger<T>(5, 4);
  redflag::save(bigger, dir / "model.rfm");
  check_same(redflag::load<Ledger<T>>(dir / "model.rfm"), bigger);

  // A failed save leaves nothing behind either.
  CHECK_THROWS_WITH_AS(redflag::save(model, dir / "missing" / "model.rfm"),
                       doctest::Contains("redflag::save: creating"), redflag::io_error);
  CHECK_THROWS_WITH_AS(redflag::save(Other{.unwritable = true}, dir / "unwritable.rfm"), "Other cannot be saved",
                       std::runtime_error);

  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
  CHECK(names == std::set<std::string>{"model.json", "model.rfm"});
}

TEST_CASE("a hand-assembled file equals what save writes") {
  // The corruption tests below build files with assemble(); it must match save().
  const Ledger<double> model = make_ledger<double>();
  const std::string payload = payload_of(model);
  CHECK(assemble(redflag::detail::describe(model, payload), payload) == saved_bytes(model));
  CHECK(payload[0] == 1);  // little-endian flag
  CHECK(u64_at(payload, matrix_count_offset) == 6);
  CHECK(u64_at(payload, history_prefix_offset(model)) == model.history.size());
}

TEST_CASE_TEMPLATE("read_info returns the envelope without loading the model", T, float, double) {
  const fs::path dir = scratch_dir(std::string("info_") + std::string(redflag::scalar_name<T>));
  const Ledger<T> model = make_ledger<T>();
  redflag::save(model, dir / "model.rfm");
  redflag::save(model, dir / "model.json", Format::json);
  const std::string payload = payload_of(model);

  const redflag::ModelInfo info = redflag::read_info(dir / "model.rfm");
  CHECK(info.format == Format::portable_binary);
  CHECK(info.envelope_version == 1);
  CHECK(info.library_version == redflag::version_string);
  CHECK(info.model_type == "Ledger");
  CHECK(info.model_format_version == 1);
  CHECK(info.scalar == redflag::scalar_name<T>);
  CHECK(info.schema == model.schema());
  CHECK(info.payload_bytes == payload.size());
  CHECK(info.payload_checksum == redflag::detail::Xxh64::hash(payload));
  CHECK(info.file_bytes == fs::file_size(dir / "model.rfm"));
  const std::string file = read_file(dir / "model.rfm");
  const auto header_bytes = redflag::detail::read_little_endian<std::uint32_t>(std::span<const char>(file), 12);
  CHECK(info.file_bytes == 16 + header_bytes + 8 + info.payload_bytes);

  const redflag::ModelInfo json_info = redflag::read_info(dir / "model.json");
  CHECK(json_info.format == Format::json);
  CHECK(json_info.model_type == "Ledger");
  CHECK(json_info.scalar == redflag::scalar_name<T>);
  CHECK(json_info.schema == model.schema());
  CHECK(json_info.payload_bytes == info.payload_bytes);
  CHECK(json_info.payload_checksum == info.payload_checksum);
  CHECK(json_info.file_bytes == fs::file_size(dir / "model.json"));

  // Any model type can be inspected; read_info does not check it.
  std::istringstream other(saved_bytes(LedgerV2<T>{make_ledger<T>(), T(0.5)}), std::ios::binary);
  const redflag::ModelInfo v2 = redflag::read_info(other);
  CHECK(v2.model_format_version == 2);
  CHECK(redflag::to_string(v2.format) == "portable_binary");
  CHECK_THROWS_WITH_AS(redflag::read_info(dir / "absent.rfm"), doctest::Contains("redflag::read_info: cannot open"),
                       redflag::io_error);
}

TEST_CASE_TEMPLATE("versioned loading: format 2 reads format 1 files", T, float, double) {
  const Ledger<T> v1 = make_ledger<T>();
  for (const Format format : {Format::portable_binary, Format::json}) {
    INFO("format " << redflag::to_string(format));
    const auto upgraded = from_bytes<LedgerV2<T>>(saved_bytes(v1, format));
    check_same(upgraded, LedgerV2<T>{v1, T(0)});
    CHECK(upgraded.bias == T(0));

    const LedgerV2<T> v2{make_ledger<T>(2, 2), T(0.625)};
    const auto reloaded = from_bytes<LedgerV2<T>>(saved_bytes(v2, format));
    check_same(reloaded, v2);
    CHECK(reloaded.bias == T(0.625));

    // An older build refuses the newer format instead of misreading it.
    CHECK_THROWS_WITH_AS(from_bytes<Ledger<T>>(saved_bytes(v2, format), "v2.rfm"),
                         "redflag::load: v2.rfm: Ledger format version 2 is newer than this build supports (this build "
                         "reads versions 1 to 1); written by redflag 0.1.0",
                         serialization_error);
  }
}

TEST_CASE("wrong model type or scalar type, from real files") {
  const fs::path dir = scratch_dir("mismatch");
  for (const Format format : {Format::portable_binary, Format::json}) {
    INFO("format " << redflag::to_string(format));
    redflag::save(Other{}, dir / "other", format);
    CHECK_THROWS_WITH_AS(
        redflag::load<Ledger<double>>(dir / "other"),
        ("redflag::load: " + (dir / "other").string() + ": file holds a 'Other', expected 'Ledger'").c_str(),
        serialization_error);
    redflag::save(make_ledger<float>(), dir / "float", format);
    CHECK_THROWS_WITH_AS(redflag::load<Ledger<double>>(dir / "float"),
                         doctest::Contains("file holds float32 parameters, expected float64"), serialization_error);
    redflag::save(make_ledger<double>(), dir / "double", format);
    CHECK_THROWS_WITH_AS(redflag::load<LedgerV2<float>>(dir / "double"),
                         doctest::Contains("file holds float64 parameters, expected float32"), serialization_error);
  }
}

TEST_CASE("a newer envelope version is refused") {
  const fs::path path = scratch_dir("envelope") / "model.rfm";
  std::string file = saved_bytes(make_ledger<double>());
  file[8] = 2;
  write_file(path, file);
  CHECK_THROWS_WITH_AS(redflag::load<Ledger<double>>(path),
                       doctest::Contains(": envelope format version 2 is not supported (this build of redflag 0.1.0 "
                                         "reads version 1)"),
                       serialization_error);
  CHECK_THROWS_WITH_AS(redflag::read_info(path), doctest::Contains("envelope format version 2"), serialization_error);
  file[8] = 0;
  write_file(path, file);
  CHECK_THROWS_WITH_AS(redflag::load<Ledger<double>>(path), doctest::Contains("envelope format version 0"),
                       serialization_error);

  const std::string json = replace_once(saved_bytes(make_ledger<double>(), Format::json), "\"envelope_version\": 1",
                                        "\"envelope_version\": 3");
  write_file(path, json);
  CHECK_THROWS_WITH_AS(redflag::load<Ledger<double>>(path),
                       doctest::Contains("envelope format version 3 is not supported"), serialization_error);
}

TEST_CASE_TEMPLATE("a file truncated at every length never loads", T, float, double) {
  const fs::path path = scratch_dir(std::string("truncated_") + std::string(redflag::scalar_name<T>)) / "model";
  const std::string file = saved_bytes(make_ledger<T>(2, 2));
  const std::string prefix = "redflag::load: " + path.string() + ": ";
  std::set<std::string> problems;
  for (std::size_t length = 0; length < file.size(); ++length) {
    INFO("length " << length << " of " << file.size());
    const std::string message = load_failure<Ledger<T>>(path, file.substr(0, length));
    CHECK(message.starts_with(prefix));
    for (const char* problem : {"file is empty", "not a redflag model file", "file is truncated (12 bytes",
                                "header length", "payload is 0 bytes but the header says"}) {
      if (message.find(problem, prefix.size()) == prefix.size()) problems.insert(problem);
    }
  }
  // Each stage of the reader caught some of them: empty, magic cut short, no
  // room for the lengths, header cut short, payload missing.
  CHECK(problems.size() == 5);
  write_file(path, file.substr(0, file.size() - 1));
  CHECK_THROWS_WITH_AS(redflag::load<Ledger<T>>(path), doctest::Contains("(truncated)"), serialization_error);

  const std::string json = saved_bytes(make_ledger<T>(2, 2), Format::json);
  for (std::size_t length = 0; length < json.size(); ++length) {
    INFO("JSON length " << length << " of " << json.size());
    write_file(path, json.substr(0, length));
    CHECK_THROWS_AS(redflag::load<Ledger<T>>(path), serialization_error);
  }
}

TEST_CASE_TEMPLATE("every single bit flip is detected", T, float, double) {
  const fs::path path = scratch_dir(std::string("bitflip_") + std::string(redflag::scalar_name<T>)) / "model.rfm";
  const std::string file = saved_bytes(make_ledger<T>(2, 2));
  std::set<std::string> problems;
  for (std::size_t bit = 0; bit < file.size() * 8; ++bit) {
    INFO("bit " << bit << " of " << file.size() * 8);
    std::string flipped = file;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    const std::string message = load_failure<Ledger<T>>(path, flipped);
    CHECK(message.starts_with("redflag::load: " + path.string() + ": "));
    for (const char* problem : {"bad magic bytes", "envelope format version", "header length",
                                "header checksum mismatch", "payload checksum mismatch"}) {
      if (message.find(problem) != std::string::npos) problems.insert(problem);
    }
    CHECK_THROWS_AS(redflag::read_info(path), serialization_error);
  }
  CHECK(problems.size() == 5);
}

TEST_CASE_TEMPLATE("an absurd length prefix with valid checksums is rejected before allocating", T, float, double) {
  const fs::path path = scratch_dir(std::string("hostile_") + std::string(redflag::scalar_name<T>)) / "model.rfm";
  const Ledger<T> model = make_ledger<T>(40, 8);  // > 1 KiB, so the bound below is above stream buffers
  const std::string payload = payload_of(model);
  const std::size_t prefix_at = history_prefix_offset(model);
  REQUIRE(u64_at(payload, prefix_at) == model.history.size());

  std::string hostile = payload;
  set_u64(hostile, prefix_at, std::uint64_t{1} << 60);
  const std::string file = with_payload(model, hostile);
  write_file(path, file);
  // The envelope is intact: only the payload's content is hostile.
  CHECK(redflag::read_info(path).payload_checksum == redflag::detail::Xxh64::hash(hostile));

  std::string message = "loaded";
  largest_allocation = 0;
  try {
    static_cast<void>(redflag::load<Ledger<T>>(path));
  } catch (const serialization_error& failure) {
    message = failure.what();
  }
  CHECK(message.find("payload byte " + std::to_string(prefix_at + 8) +
                     ": length prefix 1152921504606846976 exceeds the") != std::string::npos);
  CHECK(message.find("(corrupted or hostile file)") != std::string::npos);
  CHECK(largest_allocation.load() > 0);
  CHECK(largest_allocation.load() < file.size() * 8);

  // The same for the matrix's element count and the label's length.
  std::string hostile_matrix = payload;
  set_u64(hostile_matrix, matrix_count_offset, std::uint64_t{1} << 60);
  write_file(path, with_payload(model, hostile_matrix));
  CHECK_THROWS_WITH_AS(redflag::load<Ledger<T>>(path),
                       doctest::Contains("payload byte 9: length prefix 1152921504606846976 exceeds"),
                       serialization_error);
  std::string hostile_label = payload;
  const std::size_t label_at = prefix_at + 8 + model.history.size() * 8;
  REQUIRE(u64_at(payload, label_at) == model.label.size());
  set_u64(hostile_label, label_at, ~std::uint64_t{0});
  write_file(path, with_payload(model, hostile_label));
  CHECK_THROWS_WITH_AS(redflag::load<Ledger<T>>(path), doctest::Contains("length prefix 18446744073709551615 exceeds"),
                       serialization_error);
}

// Regression: any byte was copied into a bool, an invalid object (undefined
// behaviour in load and wherever the value was used later).
TEST_CASE("a bool byte other than 0 or 1 is rejected, naming its offset") {
  const Switch model;
  const std::string payload = payload_of(model);
  // Endianness flag, then `on`, then the optional's "nullopt" flag.
  REQUIRE(payload[1] == 1);
  REQUIRE(payload[2] == 0);
  CHECK(from_bytes<Switch>(with_payload(model, payload)).limit == 2.5);
  for (const std::size_t at : {std::size_t{1}, std::size_t{2}}) {
    for (const char hostile : {'\x02', '\xff', '\x80'}) {
      std::string edited = payload;
      edited[at] = hostile;
      const std::string expected = "payload byte " + std::to_string(at) + ": invalid bool";
      CHECK_THROWS_WITH_AS((void)from_bytes<Switch>(with_payload(model, edited)), doctest::Contains(expected.c_str()),
                           serialization_error);
    }
  }
}

TEST_CASE("payloads that are consistent on the outside but wrong inside") {
  const fs::path path = scratch_dir("inconsistent") / "model.rfm";
  const Ledger<double> model = make_ledger<double>(3, 2);
  const std::string payload = payload_of(model);

  std::string matrix = payload;
  set_u64(matrix, matrix_rows_offset, 4);
  write_file(path, with_payload(model, matrix));
  CHECK_THROWS_WITH_AS(
      redflag::load<Ledger<double>>(path),
      doctest::Contains((path.string() + ": matrix header is inconsistent (4 x 2 with 6 elements)").c_str()),
      serialization_error);

  write_file(path, with_payload(model, payload + "abcd"));
  CHECK_THROWS_WITH_AS(redflag::load<Ledger<double>>(path),
                       ("redflag::load: " + path.string() + ": 4 payload bytes were not consumed").c_str(),
                       serialization_error);

  std::string endianness = payload;
  endianness[0] = 2;
  write_file(path, with_payload(model, endianness));
  CHECK_THROWS_WITH_AS(redflag::load<Ledger<double>>(path),
                       doctest::Contains("payload byte 1: invalid endianness flag 2"), serialization_error);

  // The envelope's schema must match the one inside the payload.
  Ledger<double> relabelled = model;
  relabelled.columns = Schema::numeric(2);
  write_file(path, with_payload(relabelled, payload));
  CHECK_THROWS_WITH_AS(redflag::load<Ledger<double>>(path),
                       doctest::Contains("the model's schema (f0, f1) differs from the envelope's (x0, x1)"),
                       serialization_error);

  // A payload written big-endian is still read correctly.
  std::ostringstream big(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive archive(big, cereal::PortableBinaryOutputArchive::Options::BigEndian());
    redflag::detail::VersionedModel<Ledger<double>> versioned{const_cast<Ledger<double>&>(model), 1};
    archive(versioned);
  }
  const std::string big_payload = std::move(big).str();
  REQUIRE(big_payload[0] == 0);
  write_file(path, with_payload(model, big_payload));
  check_same(redflag::load<Ledger<double>>(path), model);
}

TEST_CASE("hostile or absurd headers") {
  const fs::path path = scratch_dir("header") / "model.rfm";
  const Ledger<double> model = make_ledger<double>();
  const std::string file = saved_bytes(model);

  std::string huge = file;
  huge[12] = huge[13] = huge[14] = '\xff';
  huge[15] = '\xf0';
  write_file(path, huge);
  CHECK_THROWS_WITH_AS(redflag::load<Ledger<double>>(path), doctest::Contains("header length 4043309055 exceeds the"),
                       serialization_error);
  std::string beyond = file;
  const auto header_bytes = static_cast<std::uint32_t>(file.size());  // more than is left after the preamble
  set_u64(beyond, 8, (std::uint64_t{header_bytes} << 32) | 1);        // envelope version 1, then the length
  write_file(path, beyond);
  CHECK_THROWS_WITH_AS(redflag::read_info(path),
                       doctest::Contains(("header length " + std::to_string(header_bytes) + " exceeds the " +
                                          std::to_string(file.size() - 16) + " bytes left")
                                             .c_str()),
                       serialization_error);

  // A header whose own length prefix is absurd, with its checksum recomputed.
  const std::uint32_t length = redflag::detail::read_little_endian<std::uint32_t>(std::span<const char>(file), 12);
  std::string header = file.substr(16, length);
  set_u64(header, 1, std::uint64_t{1} << 60);  // library_version's length
  std::string hostile = file.substr(0, 16) + header;
  redflag::detail::write_little_endian(hostile, redflag::detail::Xxh64::hash(header));
  hostile += file.substr(16 + length + 8);
  write_file(path, hostile);
  CHECK_THROWS_WITH_AS(redflag::read_info(path),
                       doctest::Contains("header byte 9: length prefix 1152921504606846976 exceeds"),
                       serialization_error);
}

TEST_CASE("empty, garbage and missing files") {
  const fs::path dir = scratch_dir("garbage");
  write_file(dir / "empty", "");
  CHECK_THROWS_WITH_AS(redflag::load<Ledger<double>>(dir / "empty"),
                       ("redflag::load: " + (dir / "empty").string() + ": file is empty").c_str(), serialization_error);
  std::string noise(300, '\0');
  std::mt19937 engine(42);
  for (char& c : noise) c = static_cast<char>(engine() & 0xFF);
  noise[0] = 'x';
  write_file(dir / "noise", noise);
  CHECK_THROWS_WITH_AS(redflag::load<Ledger<double>>(dir / "noise"),
                       doctest::Contains("not a redflag model file (bad magic bytes)"), serialization_error);
  write_file(dir / "text", "hello, model\n");
  CHECK_THROWS_WITH_AS(redflag::read_info(dir / "text"), doctest::Contains("bad magic bytes"), serialization_error);
  write_file(dir / "blank", " \n\t ");
  CHECK_THROWS_WITH_AS(redflag::load<Ledger<double>>(dir / "blank"), doctest::Contains("bad magic bytes"),
                       serialization_error);
  CHECK_THROWS_WITH_AS(redflag::load<Ledger<double>>(dir / "absent"),
                       ("redflag::load: cannot open '" + (dir / "absent").string() + "'").c_str(), redflag::io_error);
  CHECK_THROWS_WITH_AS(from_bytes<Ledger<double>>(""), "redflag::load: <stream>: file is empty", serialization_error);
}

TEST_CASE("tampered, malformed and foreign JSON files") {
  const fs::path path = scratch_dir("json") / "model.json";
  const Ledger<double> model = make_ledger<double>();
  const std::string json = saved_bytes(model, Format::json);
  auto load_error = [&](const std::string& text) { return load_failure<Ledger<double>>(path, text); };
  CHECK(load_error(json) == "loaded");

  // A changed number in the model.
  CHECK(load_error(replace_once(json, "0.375", "0.376")).find("checksum mismatch") != std::string::npos);
  // A changed string in the model.
  CHECK(load_error(replace_once(json, "card \\\"7\\\"", "card \\\"8\\\"")).find("checksum mismatch") !=
        std::string::npos);
  // A changed size in the envelope.
  const std::string size_field = "\"payload_bytes\": " + std::to_string(payload_of(model).size());
  CHECK(load_error(replace_once(json, size_field, size_field + "1")).find("checksum mismatch") != std::string::npos);
  // A renamed column in the envelope only.
  const std::size_t envelope_column = json.find("\"f1\"");
  std::string renamed = json;
  renamed.replace(envelope_column, 4, "\"g1\"");
  CHECK(load_error(renamed).find("differs from the envelope's (f0, g1)") != std::string::npos);

  CHECK(load_error("{ not json").find("malformed JSON envelope") != std::string::npos);
  CHECK(load_error("{}").find("malformed JSON envelope") != std::string::npos);
  CHECK(load_error("{\"redflag_envelope\": 5}").find("malformed JSON envelope") != std::string::npos);
  CHECK(load_error(replace_once(json, "\"model\": {", "\"modal\": {")) ==
        "redflag::load: " + path.string() + ": $: missing member 'model'");
  CHECK(load_error(replace_once(json, "\"rows\": 3", "\"rows\": \"3\"")) ==
        "redflag::load: " + path.string() +
            ": $.model.weights.rows: expected an integer in [0, 18446744073709551615], found a string");
  CHECK(load_error(replace_once(json, "\"rows\": 3", "\"rows\": 4")).find("matrix header is inconsistent") !=
        std::string::npos);

  const std::string foreign = load_error(replace_once(json, "redflag-model", "redflag-modem"));
  CHECK(foreign == "redflag::load: " + path.string() + ": JSON file is not a redflag model (magic 'redflag-modem')");
  CHECK(load_error("[1, 2, 3]").find("bad magic bytes") != std::string::npos);
}
