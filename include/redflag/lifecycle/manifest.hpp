#pragma once

// What the model registry records about each model version (ModelManifest)
// and about each decision taken on them (DecisionRecord), and their JSON
// form. Files are JSON so an operator can read them with any tool:
//
//   {
//     "redflag_manifest": 1,
//     "version": 3,
//     "model_type": "IsolationForest",
//     "scalar": "float64",
//     "model_file": "v000003.model",
//     "model_bytes": 48213,
//     "model_checksum": 1234567890123456789,     // XXH64 of the model file
//     "status": "active",                          // candidate | active | retired | rejected
//     "status_reason": "passed validation",
//     "created_at": 1767225600,                    // Unix seconds
//     "parent_version": 2,                         // 0 = none
//     "training_window": {"begin": 1766620800, "end": 1767225600},
//     "rows_used": 40000,
//     "params": {"n_estimators": "100"},
//     "metrics": {"anomaly_rate": 0.051}
//   }
//
// Reading checks every field's presence and type and reports a missing or
// malformed one as serialization_error naming the file and the field.

#include <redflag/core/detail/json_archive.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/validation.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/string.hpp>

#include <cmath>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <string_view>

namespace redflag {

// Life of a model version: registered as a candidate, then either promoted
// (active; retired when another takes over) or rejected by validation.
enum class ModelStatus : std::uint8_t { candidate, active, retired, rejected };

constexpr std::string_view to_string(ModelStatus status) {
  switch (status) {
    case ModelStatus::candidate: return "candidate";
    case ModelStatus::active: return "active";
    case ModelStatus::retired: return "retired";
    case ModelStatus::rejected: return "rejected";
  }
  return "unknown";
}

// Half-open time range [begin, end) in Unix seconds.
struct TimeWindow {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  friend bool operator==(const TimeWindow&, const TimeWindow&) = default;
};

struct ModelManifest {
  std::uint64_t version = 0;  // 1, 2, ... in registration order
  std::string model_type;     // Model::model_type
  std::string scalar;         // "float32" or "float64"
  std::string model_file;     // file name inside the registry's models/ folder
  std::uint64_t model_bytes = 0;
  std::uint64_t model_checksum = 0;  // XXH64 of the whole model file
  ModelStatus status = ModelStatus::candidate;
  std::string status_reason;  // why the status was last changed
  std::int64_t created_at = 0;
  std::uint64_t parent_version = 0;  // the active version when this one was registered; 0 = none
  TimeWindow training_window;
  std::int64_t rows_used = 0;
  std::map<std::string, std::string> params;  // the host's description of the training parameters
  std::map<std::string, double> metrics;      // validation metrics (finite values)
  friend bool operator==(const ModelManifest&, const ModelManifest&) = default;
};

// One entry of the registry's decision log: every register, promote,
// rollback and retraining decision (including skips and rejections).
struct DecisionRecord {
  std::uint64_t sequence = 0;  // 1, 2, ... in the order decisions were taken
  std::int64_t time = 0;       // Unix seconds
  std::string action;          // "register", "promote", "rollback", "retrain_skipped", "retrain_rejected", ...
  std::uint64_t version = 0;   // the model version concerned; 0 = none
  std::string reason;
  std::map<std::string, double> metrics;
  friend bool operator==(const DecisionRecord&, const DecisionRecord&) = default;
};

namespace detail::lifecycle {

inline constexpr std::uint32_t manifest_format = 1;

inline ModelStatus parse_status(const std::string& text, std::string_view source) {
  for (const ModelStatus status :
       {ModelStatus::candidate, ModelStatus::active, ModelStatus::retired, ModelStatus::rejected}) {
    if (text == to_string(status)) return status;
  }
  throw serialization_error("redflag::ModelRegistry: " + std::string(source) + ": status '" + text +
                            "' is not candidate, active, retired or rejected");
}

// Writes a string-keyed map as a JSON object (cereal's default for maps is an
// array of key/value pairs, which is harder to read).
template <class Value>
void write_object(JsonOutputArchive& archive, const char* name, const std::map<std::string, Value>& values) {
  archive.setNextName(name);
  archive.startNode();
  for (const auto& [key, value] : values) archive(cereal::make_nvp(key.c_str(), value));
  archive.finishNode();
}

template <class Value>
std::map<std::string, Value> read_object(JsonInputArchive& archive, const char* name) {
  std::map<std::string, Value> values;
  archive.setNextName(name);
  archive.startNode();
  // getNodeName is null past the last member (and for an empty object).
  while (const char* key = archive.getNodeName()) {
    Value value{};
    const std::string owned(key);
    archive(value);
    values.emplace(owned, value);
  }
  archive.finishNode();
  return values;
}

inline void require_finite_metrics(const std::map<std::string, double>& metrics, std::string_view where) {
  for (const auto& [name, value] : metrics) {
    if (!std::isfinite(value)) {
      raise<invalid_argument>(where, "metric '" + name + "' is " + format_number(value) + " (finite values required)");
    }
  }
}

// The manifest's scalar fields in file order, for writing (a const
// manifest) and reading alike; status as its name; params and metrics follow
// as JSON objects.
template <class Archive, class Manifest, class Status>
void manifest_fields(Archive& archive, Manifest& manifest, Status& status) {
  archive(cereal::make_nvp("version", manifest.version), cereal::make_nvp("model_type", manifest.model_type),
          cereal::make_nvp("scalar", manifest.scalar), cereal::make_nvp("model_file", manifest.model_file),
          cereal::make_nvp("model_bytes", manifest.model_bytes),
          cereal::make_nvp("model_checksum", manifest.model_checksum), cereal::make_nvp("status", status),
          cereal::make_nvp("status_reason", manifest.status_reason),
          cereal::make_nvp("created_at", manifest.created_at),
          cereal::make_nvp("parent_version", manifest.parent_version));
  archive.setNextName("training_window");
  archive.startNode();
  archive(cereal::make_nvp("begin", manifest.training_window.begin),
          cereal::make_nvp("end", manifest.training_window.end));
  archive.finishNode();
  archive(cereal::make_nvp("rows_used", manifest.rows_used));
}

inline std::string to_json(const ModelManifest& manifest) {
  std::ostringstream out;
  {
    JsonOutputArchive archive(out);
    std::uint32_t format = manifest_format;
    archive(cereal::make_nvp("redflag_manifest", format));
    const std::string status(to_string(manifest.status));
    manifest_fields(archive, manifest, status);
    write_object(archive, "params", manifest.params);
    write_object(archive, "metrics", manifest.metrics);
  }
  return std::move(out).str();
}

// Runs `read` on a JSON archive over `text`, turning every parse or field
// error into serialization_error naming `source`.
template <class Read>
auto read_json(const std::string& text, std::string_view source, Read&& read) {
  const auto fail = [&](std::string_view what) -> void {
    throw serialization_error("redflag::ModelRegistry: " + std::string(source) + ": " + std::string(what));
  };
  if (text.empty()) fail("file is empty");
  try {
    JsonInputArchive archive(text);
    return read(archive);
  } catch (const JsonError& failure) {
    fail(std::string("malformed or incomplete JSON (") + failure.what() + ")");
  } catch (const serialization_error&) {
    throw;
  } catch (const std::exception& failure) {
    fail(std::string("malformed or incomplete JSON (") + failure.what() + ")");
  }
  throw serialization_error("unreachable");
}

inline ModelManifest manifest_from_json(const std::string& text, std::string_view source) {
  return read_json(text, source, [&](JsonInputArchive& archive) {
    std::uint32_t format = 0;
    archive(cereal::make_nvp("redflag_manifest", format));
    if (format == 0 || format > manifest_format) {
      throw serialization_error("redflag::ModelRegistry: " + std::string(source) + ": manifest format " +
                                std::to_string(format) + " is not supported (this build reads format " +
                                std::to_string(manifest_format) + ")");
    }
    ModelManifest manifest;
    std::string status;
    manifest_fields(archive, manifest, status);
    manifest.params = read_object<std::string>(archive, "params");
    manifest.metrics = read_object<double>(archive, "metrics");
    manifest.status = parse_status(status, source);
    return manifest;
  });
}

inline std::string to_json(const DecisionRecord& record) {
  std::ostringstream out;
  {
    JsonOutputArchive archive(out);
    archive(cereal::make_nvp("sequence", record.sequence), cereal::make_nvp("time", record.time),
            cereal::make_nvp("action", record.action), cereal::make_nvp("version", record.version),
            cereal::make_nvp("reason", record.reason));
    write_object(archive, "metrics", record.metrics);
  }
  return std::move(out).str();
}

inline DecisionRecord decision_from_json(const std::string& text, std::string_view source) {
  return read_json(text, source, [&](JsonInputArchive& archive) {
    DecisionRecord record;
    archive(cereal::make_nvp("sequence", record.sequence), cereal::make_nvp("time", record.time),
            cereal::make_nvp("action", record.action), cereal::make_nvp("version", record.version),
            cereal::make_nvp("reason", record.reason));
    record.metrics = read_object<double>(archive, "metrics");
    return record;
  });
}

}  // namespace detail::lifecycle
}  // namespace redflag
