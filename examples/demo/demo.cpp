// redflag demo: detectors on real labelled data, evaluated with redflag's
// metrics. Reads the bundled Cardiotocography set (1,831 rows, 21 features,
// 9.6 % pathologic = anomalies), splits it 70/30 stratified, fits an
// IsolationForest on the training rows (labels unused) and, as a baseline,
// robust per-feature centre and spread; scores the test rows with both and
// reports how well each ranks and flags the anomalies.
//
// usage: redflag_demo [data.csv [label-column]]
#include <redflag/redflag.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

namespace {

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path path = argc > 1 ? argv[1] : REDFLAG_DEMO_DATA;
  const std::string label = argc > 2 ? argv[2] : "label";
  try {
    auto start = std::chrono::steady_clock::now();
    const auto data = redflag::read_csv<double>(path, {.label_column = label});
    const double read_ms = milliseconds_since(start);
    const auto anomalies = data.labels.sum();
    std::printf("data            %s: %td rows x %td features, %lld anomalies (%.1f %%), read in %.1f ms\n",
                path.filename().c_str(), data.values.rows(), data.values.cols(), static_cast<long long>(anomalies),
                100.0 * static_cast<double>(anomalies) / static_cast<double>(data.values.rows()), read_ms);

    const auto split = redflag::train_test_split(data.values, data.labels, {.test_size = 0.3, .random_state = 42});
    std::printf("split           %td train / %td test rows, stratified, seed 42\n", split.X_train.rows(),
                split.X_test.rows());

    // Baseline: mean squared robust z-score (median / IQR per feature).
    start = std::chrono::steady_clock::now();
    redflag::RobustScaler<double> scaler;
    scaler.fit(split.X_train, data.schema);
    const redflag::Matrix<double> z = scaler.transform(split.X_test, data.schema);
    const redflag::Vector<double> baseline = z.array().square().rowwise().mean();
    std::printf("baseline        robust z-score in %.1f ms: ROC AUC %.4f, average precision %.4f\n",
                milliseconds_since(start), redflag::roc_auc_score(split.y_test, baseline),
                redflag::average_precision_score(split.y_test, baseline));

    // The detector: an isolation forest, unsupervised (labels unused), seeded.
    start = std::chrono::steady_clock::now();
    redflag::IsolationForest<double> forest({.n_estimators = 200, .random_state = 42});
    forest.fit(split.X_train, data.schema);
    const redflag::Vector<double> score = forest.anomaly_score(split.X_test);
    std::printf("IsolationForest 200 trees, fitted and scored in %.1f ms\n\n", milliseconds_since(start));

    std::printf("ROC AUC             %.4f\n", redflag::roc_auc_score(split.y_test, score));
    std::printf("average precision   %.4f\n", redflag::average_precision_score(split.y_test, score));

    const auto youden = redflag::youden_j_threshold(split.y_test, score);
    std::printf("Youden's J          %.4f at threshold %.4f (TPR %.3f, FPR %.3f)\n", youden.j, youden.threshold,
                youden.tpr, youden.fpr);
    const redflag::AtThreshold at_youden{youden.threshold};
    std::printf("F1 / F2 / F4        %.3f / %.3f / %.3f at that threshold\n",
                redflag::f1_score(split.y_test, score, at_youden),
                redflag::fbeta_score(split.y_test, score, at_youden, 2.0),
                redflag::fbeta_score(split.y_test, score, at_youden, 4.0));

    // Without labels, a deployment flags a fixed share of the training rows.
    const double rate = static_cast<double>(anomalies) / static_cast<double>(data.values.rows());
    const double contamination = redflag::contamination_threshold(forest.anomaly_score(split.X_train), rate);
    std::printf("contamination %.3f  threshold %.4f from the training scores: precision %.3f, recall %.3f\n\n", rate,
                contamination, redflag::precision_score(split.y_test, score, redflag::AtThreshold{contamination}),
                redflag::recall_score(split.y_test, score, redflag::AtThreshold{contamination}));

    // A threshold chosen on labelled data plugs into the detector as is.
    forest.set_threshold(youden.threshold);
    std::cout << "classification report of IsolationForest::predict at Youden's threshold\n"
              << redflag::classification_report(split.y_test, forest.predict(split.X_test)).to_string() << "\n";

    // A fitted model is a file like any other, and scores identically when loaded.
    const auto model_path = std::filesystem::temp_directory_path() / "redflag_demo_forest.bin";
    redflag::save(forest, model_path);
    const auto info = redflag::read_info(model_path);
    const auto restored = redflag::load<redflag::IsolationForest<double>>(model_path);
    std::filesystem::remove(model_path);
    std::printf("saved           %s, %llu bytes, %td-column schema, reloaded %s\n", info.model_type.c_str(),
                static_cast<unsigned long long>(info.file_bytes), info.schema.size(),
                restored.anomaly_score(split.X_test) == score ? "bit-identical" : "DIFFERENT");
    return 0;
  } catch (const redflag::error& failure) {
    std::cerr << failure.what() << "\n";
    return 1;
  }
}
