// ROC AUC of RandomForest<double> (class_weight = balanced) trained on one
// CSV and scored on another (label column "label", 1 = positive). Used by
// random_forest_sklearn_parity.py, which writes the split both libraries use.
//
//   rf_auc TRAIN.csv TEST.csv SEED [n_estimators = 100] [max_depth = 0 (none)]

#include <redflag/forest/random_forest.hpp>
#include <redflag/io/csv.hpp>
#include <redflag/metrics/roc.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: rf_auc TRAIN.csv TEST.csv SEED [n_estimators] [max_depth]\n");
    return 2;
  }
  try {
    const auto seed = std::strtoull(argv[3], nullptr, 10);
    const long n_estimators = argc > 4 ? std::atol(argv[4]) : 100;
    const long max_depth = argc > 5 ? std::atol(argv[5]) : 0;
    const auto train = redflag::read_csv<double>(argv[1], {.label_column = "label"});
    const auto test = redflag::read_csv<double>(argv[2], {.label_column = "label"});
    redflag::RandomForest<double>::Params params{.n_estimators = n_estimators,
                                                 .class_weight = redflag::ClassWeight::balanced,
                                                 .random_state = seed,
                                                 .n_jobs = -1};
    if (max_depth > 0) params.max_depth = max_depth;
    redflag::RandomForest<double> model(params);
    model.fit(train.values, train.labels, train.schema);
    const redflag::Vector<double> positive = model.predict_proba(test.values).col(model.n_classes() - 1);
    std::printf("%.6f\n", redflag::roc_auc_score(test.labels, positive));
  } catch (const std::exception& failure) {
    std::fprintf(stderr, "%s\n", failure.what());
    return 1;
  }
  return 0;
}
