#pragma once

// Everything in redflag. Include single headers instead to keep compile
// times down in large projects.

#include <redflag/version.hpp>

#include <redflag/core/concepts.hpp>
#include <redflag/core/error.hpp>
#include <redflag/core/feature.hpp>
#include <redflag/core/parallel.hpp>
#include <redflag/core/phrase.hpp>
#include <redflag/core/random.hpp>
#include <redflag/core/schema.hpp>
#include <redflag/core/serialization.hpp>
#include <redflag/core/types.hpp>
#include <redflag/core/validation.hpp>

#include <redflag/forest/isolation_forest.hpp>
#include <redflag/forest/random_forest.hpp>
#include <redflag/forest/streaming_isolation_forest.hpp>

#include <redflag/inspection/permutation_importance.hpp>

#include <redflag/io/csv.hpp>

// The registry and the retrain policy (which writes to it) use POSIX file
// calls; include <redflag/lifecycle/model_registry.hpp> and
// <redflag/lifecycle/retrain_policy.hpp> yourself where they are available.
#include <redflag/lifecycle/drift.hpp>
#include <redflag/lifecycle/manifest.hpp>
#include <redflag/lifecycle/model_handle.hpp>
#include <redflag/lifecycle/performance_monitor.hpp>

#include <redflag/metrics/classification_report.hpp>
#include <redflag/metrics/precision_recall.hpp>
#include <redflag/metrics/roc.hpp>
#include <redflag/metrics/thresholds.hpp>

#include <redflag/nn/transformer_autoencoder.hpp>

#include <redflag/preprocessing/cyclical.hpp>
#include <redflag/preprocessing/min_max_scaler.hpp>
#include <redflag/preprocessing/robust_scaler.hpp>
#include <redflag/preprocessing/standard_scaler.hpp>
#include <redflag/preprocessing/train_test_split.hpp>

#include <redflag/risk/risk_decision.hpp>

#include <redflag/rules/condition.hpp>
#include <redflag/rules/rule_config.hpp>
#include <redflag/rules/rules_engine.hpp>

#include <redflag/simd/path.hpp>

#include <redflag/stream/behaviour_profile.hpp>
#include <redflag/stream/checkpoint.hpp>
#include <redflag/stream/entity.hpp>
#include <redflag/stream/entity_features.hpp>
#include <redflag/stream/entity_store.hpp>
#include <redflag/stream/partition.hpp>
#include <redflag/stream/quantile_sketch.hpp>
#include <redflag/stream/sequence_gate.hpp>
#include <redflag/stream/sliding_window.hpp>

#include <redflag/timeseries/anomaly_injector.hpp>
#include <redflag/timeseries/ohlcv.hpp>
#include <redflag/timeseries/ohlcv_simulator.hpp>
#include <redflag/timeseries/sliding_windows.hpp>
#include <redflag/timeseries/streaming_scorer.hpp>
#include <redflag/timeseries/window_scaling.hpp>

#include <redflag/transactions/transaction.hpp>
#include <redflag/transactions/transaction_features.hpp>
#include <redflag/transactions/transaction_rules.hpp>
#include <redflag/transactions/transaction_simulator.hpp>
