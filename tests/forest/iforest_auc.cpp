// Mean ROC AUC of IsolationForest<double> over seeds 0..n_seeds-1 on a
// labelled CSV (label column "label", 1 = anomaly), fitted and scored on all
// rows and features. Used by sklearn_iforest.py for the parity check.
//
//   iforest_auc DATA.csv [n_seeds = 5] [n_estimators = 100]

#include <redflag/forest/isolation_forest.hpp>
#include <redflag/io/csv.hpp>
#include <redflag/metrics/roc.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: iforest_auc DATA.csv [n_seeds] [n_estimators]\n");
    return 2;
  }
  try {
    const int n_seeds = argc > 2 ? std::atoi(argv[2]) : 5;
    const long n_estimators = argc > 3 ? std::atol(argv[3]) : 100;
    const auto table = redflag::read_csv<double>(argv[1], {.label_column = "label"});
    double sum = 0.0;
    for (int seed = 0; seed < n_seeds; ++seed) {
      redflag::IsolationForest<double> model(
          {.n_estimators = n_estimators, .random_state = static_cast<std::uint64_t>(seed), .n_jobs = -1});
      const auto scores = model.fit(table.values, table.schema).anomaly_score(table.values);
      const double auc = redflag::roc_auc_score(table.labels, scores);
      std::fprintf(stderr, "seed %d: %.6f\n", seed, auc);
      sum += auc;
    }
    std::printf("%.6f\n", sum / n_seeds);
  } catch (const std::exception& failure) {
    std::fprintf(stderr, "%s\n", failure.what());
    return 1;
  }
  return 0;
}
