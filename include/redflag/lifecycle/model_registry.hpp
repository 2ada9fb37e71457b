#pragma once

// ModelRegistry: a directory of versioned model files, one manifest per
// version, and a log of every decision taken on them.
//
//   <directory>/registry.json         which version is active, and the order of activations
//   <directory>/models/v000003.model  the model (redflag::save envelope, portable binary)
//   <directory>/manifests/v000003.json  its ModelManifest
//   <directory>/log/000012.json       one DecisionRecord per file
//
// Every file is written with write_file_atomically (temporary file, fsync,
// rename, fsync of the directory), so a reader or a process killed mid-write
// sees each file either complete or not at all. registry.json is the commit
// point of promote and rollback: it is replaced first, then the manifests'
// status fields are updated. If a crash falls between the two, readers still
// report the state of registry.json (a manifest that says "active" for a
// version registry.json does not name is reported as retired).
//
// Reads go to the files every time (nothing is cached), so any number of
// processes may read while one promotes. Writers take an exclusive flock on
// <directory>/registry.lock, so concurrent writers are serialised.
// POSIX (Linux tested); needs a local file system with atomic rename.
//
// `register` is a C++ keyword, hence register_model.

#include <redflag/core/checksum.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/lifecycle/atomic_file.hpp>
#include <redflag/lifecycle/manifest.hpp>
#include <redflag/lifecycle/model_handle.hpp>

#include <cereal/types/vector.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace redflag {

// What the host knows about a model it registers; the registry adds the
// version, type, file, checksum, status, parent and (unless given) the time.
struct ModelRecord {
  std::map<std::string, std::string> params = {};
  TimeWindow training_window = {};
  std::int64_t rows_used = 0;
  std::map<std::string, double> metrics = {};
  std::optional<std::int64_t> created_at = {};  // Unix seconds; default: now
  std::string reason = "registered";
};

namespace detail::lifecycle {

inline constexpr std::uint32_t registry_format = 1;

// registry.json: the active version (0 = none) and every activation in
// order, so rollback can return to the version active before the current one.
struct RegistryState {
  std::uint64_t active = 0;
  std::vector<std::uint64_t> activations;
};

inline std::string to_json(const RegistryState& state) {
  std::ostringstream out;
  {
    JsonOutputArchive archive(out);
    archive(cereal::make_nvp("redflag_registry", registry_format), cereal::make_nvp("active", state.active),
            cereal::make_nvp("activations", state.activations));
  }
  return std::move(out).str();
}

inline RegistryState state_from_json(const std::string& text, std::string_view source) {
  return read_json(text, source, [&](JsonInputArchive& archive) {
    std::uint32_t format = 0;
    archive(cereal::make_nvp("redflag_registry", format));
    if (format == 0 || format > registry_format) {
      throw serialization_error("redflag::ModelRegistry: " + std::string(source) + ": registry format " +
                                std::to_string(format) + " is not supported");
    }
    RegistryState state;
    archive(cereal::make_nvp("active", state.active), cereal::make_nvp("activations", state.activations));
    const bool consistent = state.activations.empty() ? state.active == 0 : state.activations.back() == state.active;
    if (!consistent) {
      throw serialization_error("redflag::ModelRegistry: " + std::string(source) + ": active version " +
                                std::to_string(state.active) + " is not the last activation");
    }
    return state;
  });
}

inline std::string version_name(std::uint64_t version) {
  char name[32];
  std::snprintf(name, sizeof name, "v%06llu", static_cast<unsigned long long>(version));
  return name;
}

// The number in "v000012.json" / "000012.json"; nullopt for other names.
inline std::optional<std::uint64_t> number_in(const std::filesystem::path& file, std::string_view prefix) {
  const std::string stem = file.stem().string();
  if (file.extension() != ".json" || !stem.starts_with(prefix) || stem.size() == prefix.size()) return std::nullopt;
  std::uint64_t number = 0;
  for (const char c : stem.substr(prefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    number = number * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return number;
}

inline std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Exclusive flock for the lifetime of a write operation.
class WriterLock {
 public:
  explicit WriterLock(const std::filesystem::path& file)
      : descriptor_(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (descriptor_.get() < 0) fail_io("ModelRegistry", "opening lock file", file, errno);
    while (::flock(descriptor_.get(), LOCK_EX) != 0) {
      if (errno != EINTR) fail_io("ModelRegistry", "locking", file, errno);
    }
  }

 private:
  FileDescriptor descriptor_;  // closing it releases the lock
};

}  // namespace detail::lifecycle

class ModelRegistry {
 public:
  // Opens the registry in `directory`, creating it (and the directory) when
  // it does not exist yet. Throws io_error when a folder cannot be created,
  // serialization_error when registry.json is corrupt, or missing while
  // manifests exist.
  explicit ModelRegistry(std::filesystem::path directory) : directory_(std::move(directory)) {
    const std::string where = "ModelRegistry::ModelRegistry";
    std::error_code failure;
    for (const char* folder : {"models", "manifests", "log"}) {
      std::filesystem::create_directories(directory_ / folder, failure);
      if (failure) {
        detail::raise<io_error>(where, "cannot create '" + (directory_ / folder).string() + "': " + failure.message());
      }
    }
    if (!std::filesystem::exists(state_path())) {
      if (!versions().empty()) {
        detail::raise<serialization_error>(where, "'" + state_path().string() +
                                                      "' is missing but the registry holds manifests; restore it "
                                                      "from a backup rather than starting over");
      }
      const detail::lifecycle::WriterLock lock(lock_path());
      if (!std::filesystem::exists(state_path())) write_state({});
    }
    (void)read_state();  // fail now, not at the first promote, if it is unreadable
  }

  [[nodiscard]] const std::filesystem::path& directory() const { return directory_; }

  // Saves `model` as the next version, status candidate; its parent is the
  // version active now. Returns the new version number.
  template <SerializableModel Model>
  std::uint64_t register_model(const Model& model, const ModelRecord& record = {}) {
    const std::string where = "ModelRegistry::register_model";
    detail::lifecycle::require_finite_metrics(record.metrics, where);
    detail::require_parameter(record.rows_used >= 0, where, "rows_used", ">= 0", record.rows_used);
    if (record.training_window.end < record.training_window.begin) {
      detail::raise<invalid_argument>(where, "training_window ends (" + std::to_string(record.training_window.end) +
                                                 ") before it begins (" + std::to_string(record.training_window.begin) +
                                                 ")");
    }
    std::ostringstream bytes(std::ios::binary);
    save(model, bytes);
    const std::string file = std::move(bytes).str();

    const detail::lifecycle::WriterLock lock(lock_path());
    remove_stale_temporaries();
    const auto existing = versions();
    ModelManifest manifest;
    manifest.version = existing.empty() ? 1 : existing.back() + 1;
    manifest.model_type = std::string(Model::model_type);
    manifest.scalar = std::string(scalar_name<typename Model::scalar_type>);
    manifest.model_file = detail::lifecycle::version_name(manifest.version) + ".model";
    manifest.model_bytes = file.size();
    manifest.model_checksum = detail::Xxh64::hash(file);
    manifest.status = ModelStatus::candidate;
    manifest.status_reason = record.reason;
    manifest.created_at = record.created_at.value_or(detail::lifecycle::unix_now());
    manifest.parent_version = read_state().active;
    manifest.training_window = record.training_window;
    manifest.rows_used = record.rows_used;
    manifest.params = record.params;
    manifest.metrics = record.metrics;
    // Model file first: a manifest never names a file that is not complete.
    detail::write_file_atomically(directory_ / "models" / manifest.model_file, file, where);
    write_manifest(manifest);
    append_decision("register", manifest.version, record.reason, record.metrics);
    return manifest.version;
  }

  // Makes `version` the active model (the previous one becomes retired).
  // Checks the model file against its manifest first, so a corrupt file is
  // never promoted; on any error the active model is unchanged.
  void promote(std::uint64_t version, const std::string& reason = "promoted") {
    const std::string where = "ModelRegistry::promote";
    const detail::lifecycle::WriterLock lock(lock_path());
    remove_stale_temporaries();
    ModelManifest target = manifest(version);
    auto state = read_state();
    if (state.active == version) {
      detail::raise<invalid_argument>(where, "version " + std::to_string(version) + " is already active");
    }
    (void)verified_file(target, where);
    const std::uint64_t previous = state.active;
    state.active = version;
    state.activations.push_back(version);
    write_state(state);  // the commit point
    set_status(target, ModelStatus::active, reason);
    if (previous != 0) retire(previous, "replaced by version " + std::to_string(version));
    append_decision("promote", version, reason, {});
  }

  // Reactivates the version that was active before the current one; the
  // current one becomes retired. Returns the version now active.
  std::uint64_t rollback(const std::string& reason = "rolled back") {
    const std::string where = "ModelRegistry::rollback";
    const detail::lifecycle::WriterLock lock(lock_path());
    remove_stale_temporaries();
    auto state = read_state();
    if (state.activations.size() < 2) {
      detail::raise<invalid_argument>(where, state.active == 0
                                                 ? std::string("no version is active")
                                                 : "version " + std::to_string(state.active) +
                                                       " is the first active version; there is none to roll back to");
    }
    const std::uint64_t current = state.active;
    state.activations.pop_back();
    state.active = state.activations.back();
    ModelManifest target = manifest(state.active);
    (void)verified_file(target, where);
    write_state(state);
    set_status(target, ModelStatus::active, "reactivated: " + reason);
    retire(current, "rolled back: " + reason);
    append_decision("rollback", state.active, reason + " (from version " + std::to_string(current) + ")", {});
    return state.active;
  }

  // Marks a candidate as rejected (it stays on disk, with the reason).
  void reject(std::uint64_t version, const std::string& reason) {
    const std::string where = "ModelRegistry::reject";
    const detail::lifecycle::WriterLock lock(lock_path());
    ModelManifest target = manifest(version);
    if (target.status != ModelStatus::candidate) {
      detail::raise<invalid_argument>(where, "version " + std::to_string(version) + " is " +
                                                 std::string(to_string(target.status)) + ", not a candidate");
    }
    set_status(target, ModelStatus::rejected, reason);
    append_decision("reject", version, reason, target.metrics);
  }

  // Adds an entry to the decision log (retraining policies log theirs
  // here); `time` defaults to now.
  void record_decision(const std::string& action, std::uint64_t version, const std::string& reason,
                       const std::map<std::string, double>& metrics = {},
                       std::optional<std::int64_t> time = std::nullopt) {
    detail::lifecycle::require_finite_metrics(metrics, "ModelRegistry::record_decision");
    const detail::lifecycle::WriterLock lock(lock_path());
    append_decision(action, version, reason, metrics, time);
  }

  // The active version's manifest, or nullopt before the first promote.
  [[nodiscard]] std::optional<ModelManifest> active() const {
    const auto state = read_state();
    if (state.active == 0) return std::nullopt;
    return manifest(state.active, state);
  }

  // One version's manifest; invalid_argument when it was never registered.
  [[nodiscard]] ModelManifest manifest(std::uint64_t version) const { return manifest(version, read_state()); }

  // Every registered version's manifest, oldest first.
  [[nodiscard]] std::vector<ModelManifest> history() const {
    const auto state = read_state();
    std::vector<ModelManifest> manifests;
    for (const std::uint64_t version : versions()) manifests.push_back(manifest(version, state));
    return manifests;
  }

  // Every decision, oldest first.
  [[nodiscard]] std::vector<DecisionRecord> decisions() const {
    std::vector<std::pair<std::uint64_t, std::filesystem::path>> files;
    for (const auto& entry : std::filesystem::directory_iterator(directory_ / "log")) {
      if (const auto number = detail::lifecycle::number_in(entry.path(), "")) files.emplace_back(*number, entry.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<DecisionRecord> records;
    for (const auto& [number, path] : files) {
      records.push_back(
          detail::lifecycle::decision_from_json(read_text(path, "ModelRegistry::decisions"), path.string()));
    }
    return records;
  }

  // Loads `version`, checking the model type and scalar recorded in its
  // manifest and the file's size and checksum before decoding it.
  template <SerializableModel Model>
  [[nodiscard]] Model load(std::uint64_t version) const {
    const std::string where = "ModelRegistry::load";
    const ModelManifest target = manifest(version);
    const std::string expected_type(Model::model_type);
    const std::string expected_scalar(scalar_name<typename Model::scalar_type>);
    if (target.model_type != expected_type || target.scalar != expected_scalar) {
      detail::raise<serialization_error>(where, "version " + std::to_string(version) + " holds " + target.model_type +
                                                    " (" + target.scalar + "), expected " + expected_type + " (" +
                                                    expected_scalar + ")");
    }
    const std::string file = verified_file(target, where);
    std::istringstream in(file, std::ios::binary);
    return redflag::load<Model>(in, (directory_ / "models" / target.model_file).string());
  }

  // The active model with its version, ready for ModelHandle::publish.
  template <SerializableModel Model>
  [[nodiscard]] ModelSnapshot<Model> load_active() const {
    const auto current = active();
    if (!current) detail::raise<invalid_argument>("ModelRegistry::load_active", "no version is active");
    return {current->version, load<Model>(current->version)};
  }

 private:
  [[nodiscard]] std::filesystem::path state_path() const { return directory_ / "registry.json"; }
  [[nodiscard]] std::filesystem::path lock_path() const { return directory_ / "registry.lock"; }
  [[nodiscard]] std::filesystem::path manifest_path(std::uint64_t version) const {
    return directory_ / "manifests" / (detail::lifecycle::version_name(version) + ".json");
  }

  static std::string read_text(const std::filesystem::path& path, std::string_view where) {
    std::ifstream in(path, std::ios::binary);
    if (!in) detail::raise<serialization_error>(where, "cannot open '" + path.string() + "'");
    return detail::read_all(in);
  }

  [[nodiscard]] detail::lifecycle::RegistryState read_state() const {
    return detail::lifecycle::state_from_json(read_text(state_path(), "ModelRegistry"), state_path().string());
  }

  void write_state(const detail::lifecycle::RegistryState& state) {
    detail::write_file_atomically(state_path(), detail::lifecycle::to_json(state), "ModelRegistry");
  }

  void write_manifest(const ModelManifest& manifest) {
    detail::write_file_atomically(manifest_path(manifest.version), detail::lifecycle::to_json(manifest),
                                  "ModelRegistry");
  }

  // Registered versions, ascending (from the manifest file names).
  [[nodiscard]] std::vector<std::uint64_t> versions() const {
    std::vector<std::uint64_t> found;
    for (const auto& entry : std::filesystem::directory_iterator(directory_ / "manifests")) {
      if (const auto number = detail::lifecycle::number_in(entry.path(), "v")) found.push_back(*number);
    }
    std::sort(found.begin(), found.end());
    return found;
  }

  [[nodiscard]] ModelManifest manifest(std::uint64_t version, const detail::lifecycle::RegistryState& state) const {
    const std::string where = "ModelRegistry::manifest";
    const auto path = manifest_path(version);
    if (version == 0 || !std::filesystem::exists(path)) {
      if (version != 0 && version == state.active) {
        detail::raise<serialization_error>(where, "the manifest of the active version " + std::to_string(version) +
                                                      " is missing ('" + path.string() + "')");
      }
      detail::raise<invalid_argument>(
          where, "version " + std::to_string(version) + " is not registered in '" + directory_.string() + "'");
    }
    ModelManifest result = detail::lifecycle::manifest_from_json(read_text(path, where), path.string());
    if (result.version != version) {
      detail::raise<serialization_error>(where, "'" + path.string() + "' describes version " +
                                                    std::to_string(result.version) + ", expected " +
                                                    std::to_string(version));
    }
    // registry.json decides which version is active (see the header comment).
    if (version == state.active) {
      result.status = ModelStatus::active;
    } else if (result.status == ModelStatus::active) {
      result.status = ModelStatus::retired;
    }
    return result;
  }

  // The model file's bytes after checking them against the manifest.
  [[nodiscard]] std::string verified_file(const ModelManifest& target, std::string_view where) const {
    const auto path = directory_ / "models" / target.model_file;
    if (!std::filesystem::exists(path)) {
      detail::raise<serialization_error>(where, "the model file of version " + std::to_string(target.version) +
                                                    " is missing ('" + path.string() + "')");
    }
    std::string file = read_text(path, where);
    if (file.size() != target.model_bytes || detail::Xxh64::hash(file) != target.model_checksum) {
      detail::raise<serialization_error>(where, "'" + path.string() + "' (" + std::to_string(file.size()) +
                                                    " bytes) does not match the checksum in the manifest of version " +
                                                    std::to_string(target.version) + " (file corrupted or replaced)");
    }
    return file;
  }

  void set_status(ModelManifest target, ModelStatus status, const std::string& reason) {
    target.status = status;
    target.status_reason = reason;
    write_manifest(target);
  }

  void retire(std::uint64_t version, const std::string& reason) {
    set_status(manifest(version), ModelStatus::retired, reason);
  }

  void append_decision(const std::string& action, std::uint64_t version, const std::string& reason,
                       const std::map<std::string, double>& metrics, std::optional<std::int64_t> time = std::nullopt) {
    std::uint64_t last = 0;
    for (const auto& entry : std::filesystem::directory_iterator(directory_ / "log")) {
      if (const auto number = detail::lifecycle::number_in(entry.path(), "")) last = std::max(last, *number);
    }
    DecisionRecord record{last + 1, time.value_or(detail::lifecycle::unix_now()), action, version, reason, metrics};
    char name[32];
    std::snprintf(name, sizeof name, "%06llu.json", static_cast<unsigned long long>(record.sequence));
    detail::write_file_atomically(directory_ / "log" / name, detail::lifecycle::to_json(record), "ModelRegistry");
  }

  // Temporaries left by processes that died mid-write ("<name>.tmp-<pid>-<n>"
  // whose pid no longer runs). Called with the writer lock held.
  void remove_stale_temporaries() {
    for (const char* folder : {"", "models", "manifests", "log"}) {
      for (const auto& entry : std::filesystem::directory_iterator(directory_ / folder)) {
        const std::string name = entry.path().filename().string();
        const auto marker = name.find(detail::temporary_marker);
        if (marker == std::string::npos) continue;
        const long pid = std::strtol(name.c_str() + marker + detail::temporary_marker.size(), nullptr, 10);
        if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
          std::error_code ignored;
          std::filesystem::remove(entry.path(), ignored);
        }
      }
    }
  }

  std::filesystem::path directory_;
};

}  // namespace redflag
