#!/usr/bin/env python3
"""Computes the scikit-learn reference values of redflag's metrics tests.

    sklearn_reference.py --output sklearn_reference.hpp   # write the header
    sklearn_reference.py --check sklearn_reference.hpp    # regenerate, compare

The checked-in tests/metrics/sklearn_reference.hpp is this script's output;
the CTest test metrics.sklearn_reference_current runs --check so its
literals provably are scikit-learn's. Needs numpy and scikit-learn (written
against scikit-learn 1.2.1).

Deliberate differences from scikit-learn 1.2.1, applied here so the header
states redflag's contract:
  * roc_curve's first threshold is +inf (scikit-learn >= 1.3); 1.2.1 reports
    max(score) + 1. The script checks that before replacing it.
"""

import argparse
import difflib
import math
import os
import re
import sys
import tempfile
import warnings
from fractions import Fraction

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest
from sklearn.metrics import (
    average_precision_score,
    classification_report,
    confusion_matrix,
    f1_score,
    fbeta_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

warnings.simplefilter("ignore")  # zero-division warnings are part of the cases


def num(x):
    x = float(x)
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


def wrap(items, per_line):
    """Braced list; long ones broken into lines of per_line items."""
    items = list(items)
    if len(items) <= per_line:
        return "{" + ", ".join(items) + "}"
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "{\n        " + ",\n        ".join(lines) + "}"


def vec(values):
    return wrap((num(v) for v in values), 5)


def ivec(values):
    return wrap((str(int(v)) for v in values), 30)


def string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# ---------------------------------------------------------------- inputs

def ranking_inputs():
    rng = np.random.default_rng(20240607)
    cases = [
        ("docs_example", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]),
        ("ties_across_classes",
         [0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0],
         [0.5, 0.5, 0.9, 0.1, 0.5, 0.3, 0.3, 0.9, 0.7, 0.2, 0.7, 0.2]),
        ("all_equal_scores", [0, 1, 0, 1, 1], [0.25] * 5),
        ("perfect", [0, 0, 0, 1, 1], [-2.0, -1.5, 0.0, 3.0, 4.0]),
        ("inverted", [1, 1, 0, 0, 0], [-2.0, -1.5, 0.0, 3.0, 4.0]),
        ("signed_zero_ties", [1, 0, 1, 0, 0, 1], [0.0, -0.0, -3.5, 2.25, -0.0, 7.0]),
        # Distinct as doubles, tied once rounded to float.
        ("float_rounding_ties", [0, 1, 0, 1, 1, 0],
         [1.0, 1.0 + 1e-9, 1.0 + 2e-9, 0.5, 2.0, 2.0 + 1e-10]),
        ("collinear_runs", [1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1],
         [12.0, 11.0, 10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]),
        ("all_positive", [1, 1, 1, 1], [0.3, 0.1, 0.3, 0.9]),
    ]
    n = 1500  # above radix_sort's std::sort cutoff (1024)
    y = (rng.random(n) < 0.1).astype(int)
    s = np.round(rng.normal(size=n) + 1.2 * y, 2)  # two decimals: many ties
    cases.append(("random_ties", y.tolist(), s.tolist()))
    y = (rng.random(n) < 0.3).astype(int)
    s = rng.normal(size=n) + 0.8 * y
    cases.append(("random_continuous", y.tolist(), s.tolist()))
    return cases


def threshold_inputs():
    return [
        ("mixed", [0, 1, 1, 0, 1, 0, 0, 1], [0.1, 0.8, 0.6, 0.6, 0.3, 0.2, 0.9, 0.6],
         [0.6, 0.3, 0.05, 0.95, 0.8]),
        ("no_positives", [0, 0, 0, 0], [0.2, 0.4, 0.6, 0.8], [0.5, 0.1, 1.0]),
        ("all_positive", [1, 1, 1], [0.2, 0.4, 0.6], [0.5, 0.1, 1.0]),
    ]


def prediction_inputs():
    return [
        ("mixed", [0, 1, 1, 0, 1, 0, 0, 1, 1, 0], [0, 1, 0, 0, 1, 1, 0, 1, 0, 0]),
        ("none_predicted", [0, 1, 1, 0], [0, 0, 0, 0]),
        ("all_predicted", [0, 1, 1, 0, 0], [1, 1, 1, 1, 1]),
        ("perfect", [0, 1, 1, 0], [0, 1, 1, 0]),
        ("all_wrong", [0, 1, 1, 0], [1, 0, 0, 1]),
    ]


def report_inputs():
    rng = np.random.default_rng(7)
    y = (rng.random(200) < 0.15).astype(int)
    p = np.where(rng.random(200) < 0.8, y, 1 - y)
    return [
        ("basic", [0, 1, 1, 0], [0, 1, 0, 0], None, 2),
        ("named", [0, 1, 1, 0, 1, 0, 0, 1, 1, 0], [0, 1, 0, 0, 1, 1, 0, 1, 0, 0],
         ["normal", "anomaly"], 2),
        ("four_digits", y.tolist(), p.tolist(), ["normal", "fraud"], 4),
        ("long_name", [0, 0, 1, 0, 1], [0, 1, 1, 0, 0],
         ["ordinary transaction", "suspicious"], 3),
        ("anomaly_never_predicted", [0, 1, 0, 0, 1], [0, 0, 0, 0, 0], None, 2),
        ("zero_digits", [0, 1, 1, 0, 1], [0, 1, 0, 1, 1], None, 0),
        # Python pads by code points, not UTF-8 bytes.
        ("utf8_names", [0, 1, 1, 0, 1], [0, 1, 0, 1, 1],
         ["normal", "transacci\u00f3n sospechosa"], 2),
    ]


def contamination_inputs():
    rng = np.random.default_rng(99)
    big = rng.normal(size=1000)
    ties = np.round(rng.exponential(size=500), 1)
    return [
        ("eleven", list(range(11)), [0.1, 0.5, 0.3]),
        ("hundred", (np.arange(100) * 0.37 % 5).tolist(), [0.05, 0.1, 0.25]),
        ("single", [4.5], [0.1]),
        ("two", [1.0, 3.0], [0.5, 0.2]),
        ("random", big.tolist(), [0.01, 0.05, 0.1, 0.2, 0.5]),
        # Interpolation weights on both sides of 0.5, where numpy's lerp
        # switches formula.
        ("random_fractions", (rng.normal(size=1234) * 1e3).tolist(),
         [0.013, 0.07, 0.11, 0.17, 0.23, 0.31, 0.37, 0.41, 0.47]),
        ("ties", ties.tolist(), [0.1, 0.3]),
        # Index 9.7: the two lerp formulas round differently for these values.
        ("lerp_upper_branch", [-100.0 - k for k in range(9)] + [-2.435586790791046,
                                                                 7.587549221965867], [0.03]),
        ("float_rounding", [1.0 + k * 1e-9 for k in range(9)] + [0.5], [0.1, 0.3]),
    ]


# ---------------------------------------------------------------- reference values

def exact_best(keys):
    """Index of the first maximum of exact (Fraction) keys."""
    best = 0
    for i, key in enumerate(keys):
        if key > keys[best]:
            best = i
    return best


def curves(y, s):
    y = np.asarray(y)
    out = {}
    both = 0 < y.sum() < len(y)
    if both:
        fpr, tpr, thr = roc_curve(y, s)
        assert thr[0] == thr.dtype.type(thr[1] + 1), "scikit-learn's leading threshold changed"
        thr = np.r_[np.inf, thr[1:]]
        out["roc"] = (fpr, tpr, thr)
        fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
        full_thr = np.r_[np.inf, thr[1:]]
        out["roc_full"] = (fpr, tpr, full_thr)
        out["auc"] = roc_auc_score(y, s)
        # Youden's J over the real thresholds, first exact maximum.
        pos, neg = int(y.sum()), int(len(y) - y.sum())
        keys = [Fraction(int(round(t * pos)), pos) - Fraction(int(round(f * neg)), neg)
                for f, t in zip(fpr[1:], tpr[1:])]
        i = exact_best(keys) + 1
        out["youden"] = (full_thr[i], tpr[i] - fpr[i], tpr[i], fpr[i])
    else:
        out["auc"] = float("nan")
    precision, recall, thr = precision_recall_curve(y, s)
    out["pr"] = (precision, recall, thr)
    out["ap"] = average_precision_score(y, s)
    for beta in (1.0, 2.0):
        candidates = sorted(set(np.asarray(s).tolist()), reverse=True)
        keys = []
        for t in candidates:
            pred = (np.asarray(s) >= t).astype(int)
            tp = int(((pred == 1) & (y == 1)).sum())
            fp = int(((pred == 1) & (y == 0)).sum())
            b2 = Fraction(beta) ** 2
            keys.append((1 + b2) * tp / (tp + fp + b2 * int(y.sum())))
        t = candidates[exact_best(keys)]
        pred = (np.asarray(s) >= t).astype(int)
        out[f"f{int(beta)}"] = (t, fbeta_score(y, pred, beta=beta), precision_score(y, pred),
                                recall_score(y, pred))
    return out


def emit_curves(out, c):
    lines = ["    {"]
    if "roc" in out:
        for key in ("roc", "roc_full"):
            fpr, tpr, thr = out[key]
            lines.append(f"      {vec(fpr)},\n      {vec(tpr)},\n      {vec(thr)},")
    else:
        lines.append("      {}, {}, {}, {}, {}, {},")
    lines.append(f"      {num(out['auc'])},")
    precision, recall, thr = out["pr"]
    lines.append(f"      {vec(precision)},\n      {vec(recall)},\n      {vec(thr)},")
    lines.append(f"      {num(out['ap'])},")
    youden = out.get("youden", (0, 0, 0, 0))
    lines.append(f"      {vec(youden)},")
    lines.append(f"      {vec(out['f1'])},")
    lines.append(f"      {vec(out['f2'])},")
    lines.append("    }" + c)
    return "\n".join(lines)


def generate():
    h = []
    h.append("// Generated by tests/metrics/sklearn_reference.py from scikit-learn "
             f"{sklearn.__version__} (numpy {np.__version__}); do not edit.")
    h.append("// Regenerate: /usr/bin/python3 tests/metrics/sklearn_reference.py "
             "--output tests/metrics/sklearn_reference.hpp")
    h.append("#pragma once\n\n#include <limits>\n#include <string_view>\n#include <vector>\n")
    h.append("namespace sklearn_reference {\n")
    h.append("inline constexpr double inf = std::numeric_limits<double>::infinity();")
    h.append("inline constexpr double nan = std::numeric_limits<double>::quiet_NaN();\n")
    h.append("""// scikit-learn's outputs for one input, at one scalar type.
struct Curves {
  std::vector<double> roc_fpr, roc_tpr, roc_thresholds;  // drop_intermediate=True
  std::vector<double> roc_full_fpr, roc_full_tpr, roc_full_thresholds;  // =False
  double roc_auc;  // nan when y_true has one class (ROC fields then empty)
  std::vector<double> pr_precision, pr_recall, pr_thresholds;
  double average_precision;
  std::vector<double> youden;   // threshold, j, tpr, fpr (first exact maximum)
  std::vector<double> f1_best;  // threshold, f, precision, recall (first exact maximum)
  std::vector<double> f2_best;
};

struct RankingCase {
  std::string_view name;
  std::vector<int> y_true;
  std::vector<double> scores;
  Curves float64;  // scores as given
  Curves float32;  // scores rounded to float (numpy astype(float32))
};
""")
    h.append("inline const std::vector<RankingCase> ranking_cases = {")
    for name, y, s in ranking_inputs():
        s64 = np.asarray(s, dtype=np.float64)
        s32 = s64.astype(np.float32)
        h.append(f"  {{\n    {string(name)},\n    {ivec(y)},\n    {vec(s64)},")
        h.append(emit_curves(curves(y, s64), ","))
        h.append(emit_curves(curves(y, s32), ","))
        h.append("  },")
    h.append("};\n")

    h.append("""// Scores cut at thresholds (predict 1 when score >= threshold).
struct ThresholdResult {
  double threshold;
  long tn, fp, fn, tp;
  double precision, recall, f1, f2, f05;  // zero_division default
};

struct ThresholdCase {
  std::string_view name;
  std::vector<int> y_true;
  std::vector<double> scores;
  std::vector<ThresholdResult> results;
};
""")
    h.append("inline const std::vector<ThresholdCase> threshold_cases = {")
    for name, y, s, thresholds in threshold_inputs():
        h.append(f"  {{{string(name)}, {ivec(y)}, {vec(s)}, {{")
        for t in thresholds:
            pred = (np.asarray(s) >= t).astype(int)
            tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
            values = [precision_score(y, pred), recall_score(y, pred), f1_score(y, pred),
                      fbeta_score(y, pred, beta=2.0), fbeta_score(y, pred, beta=0.5)]
            h.append(f"    {{{num(t)}, {tn}, {fp}, {fn}, {tp}, "
                     + ", ".join(num(v) for v in values) + "},")
        h.append("  }},")
    h.append("};\n")

    h.append("""struct PredictionCase {
  std::string_view name;
  std::vector<int> y_true, y_pred;
  long tn, fp, fn, tp;
  double precision, recall, f1, f2, f05;
};
""")
    h.append("inline const std::vector<PredictionCase> prediction_cases = {")
    for name, y, p in prediction_inputs():
        tn, fp, fn, tp = confusion_matrix(y, p, labels=[0, 1]).ravel()
        values = [precision_score(y, p), recall_score(y, p), f1_score(y, p),
                  fbeta_score(y, p, beta=2.0), fbeta_score(y, p, beta=0.5)]
        h.append(f"  {{{string(name)}, {ivec(y)}, {ivec(p)}, {tn}, {fp}, {fn}, {tp}, "
                 + ", ".join(num(v) for v in values) + "},")
    h.append("};\n")

    h.append("""// classification_report(y_true, y_pred, labels=[0, 1], ...) and its output_dict.
struct ReportCase {
  std::string_view name;
  std::vector<int> y_true, y_pred;
  std::vector<std::string_view> target_names;  // empty: default "0", "1"
  int digits;
  std::string_view text;
  std::vector<double> class0, class1, macro_avg, weighted_avg;  // precision, recall, f1, support
  double accuracy;
};
""")
    h.append("inline const std::vector<ReportCase> report_cases = {")
    for name, y, p, names, digits in report_inputs():
        text = classification_report(y, p, labels=[0, 1], target_names=names, digits=digits)
        assert "accuracy" in text
        d = classification_report(y, p, labels=[0, 1], target_names=names, output_dict=True)
        keys = names if names else ["0", "1"]

        def row(key):
            r = d[key]
            return vec([r["precision"], r["recall"], r["f1-score"], r["support"]])

        names_cpp = "{" + ", ".join(string(x) for x in names) + "}" if names else "{}"
        h.append(f"  {{{string(name)}, {ivec(y)}, {ivec(p)}, {names_cpp}, {digits},\n"
                 f"   {string(text)},\n"
                 f"   {row(keys[0])}, {row(keys[1])}, {row('macro avg')}, {row('weighted avg')},"
                 f" {num(d['accuracy'])}}},")
    h.append("};\n")

    h.append("""// np.percentile(scores, 100 * (1 - contamination)) in double; flagged_ge and
// flagged_gt count scores >= and > the threshold.
struct ContaminationResult {
  double contamination, threshold;
  long flagged_ge, flagged_gt;
};

struct ContaminationCase {
  std::string_view name;
  std::vector<double> scores;
  std::vector<ContaminationResult> float64, float32;
};
""")
    h.append("inline const std::vector<ContaminationCase> contamination_cases = {")
    for name, s, contaminations in contamination_inputs():
        s64 = np.asarray(s, dtype=np.float64)
        parts = []
        for values in (s64, s64.astype(np.float32).astype(np.float64)):
            rows = []
            for c in contaminations:
                t = np.percentile(values, 100 * (1 - c))
                rows.append(f"{{{num(c)}, {num(t)}, {int((values >= t).sum())}, "
                            f"{int((values > t).sum())}}}")
            parts.append("{" + ", ".join(rows) + "}")
        h.append(f"  {{{string(name)}, {vec(s64)},\n   {parts[0]},\n   {parts[1]}}},")
    h.append("};\n")

    h.append("""// A fitted IsolationForest: anomaly scores = -score_samples(X) (higher = more
// anomalous), threshold = -offset_, flagged = number of predict(X) == -1.
struct IsolationForestCase {
  double contamination;
  std::vector<double> scores;
  double threshold;
  long flagged;
};
""")
    h.append("inline const std::vector<IsolationForestCase> isolation_forest_cases = {")
    rng = np.random.default_rng(5)
    X = np.r_[rng.normal(size=(190, 2)), rng.normal(loc=5.0, size=(10, 2))]
    for c in (0.05, 0.1, 0.3):
        forest = IsolationForest(n_estimators=50, contamination=c, random_state=0).fit(X)
        scores = -forest.score_samples(X)
        flagged = int((forest.predict(X) == -1).sum())
        assert flagged == int((scores > -forest.offset_).sum())
        h.append(f"  {{{num(c)}, {vec(scores)}, {num(-forest.offset_)}, {flagged}}},")
    h.append("};\n")
    h.append("}  // namespace sklearn_reference")
    return "\n".join(h) + "\n"


NUMBER = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")


def within_ulps(current, regenerated, limit=4):
    """The largest difference between the two texts' numbers in units in the
    last place, or None when the texts differ otherwise or by more than limit."""
    if NUMBER.sub("#", current) != NUMBER.sub("#", regenerated):
        return None
    worst = 0
    for a, b in zip(NUMBER.findall(current), NUMBER.findall(regenerated)):
        x, y = float(a), float(b)
        if x == y:
            continue
        distance = abs(x - y) / math.ulp(max(abs(x), abs(y)))
        if distance > limit:
            return None
        worst = max(worst, math.ceil(distance))
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--output", help="write the header here")
    group.add_argument("--check", help="fail if this header differs from a fresh one")
    args = parser.parse_args()
    text = generate()
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        return 0
    with tempfile.NamedTemporaryFile("w", suffix=".hpp", delete=False, encoding="utf-8") as f:
        f.write(text)
        fresh = f.name
    try:
        with open(args.check, encoding="utf-8") as f:
            current = f.read()
        with open(fresh, encoding="utf-8") as f:
            regenerated = f.read()
    finally:
        os.unlink(fresh)
    if current == regenerated:
        print(f"{args.check} matches scikit-learn {sklearn.__version__}")
        return 0
    # NumPy picks its float64 exp, log and power by CPU (AVX-512 kernels or
    # the C library), so scikit-learn's scores can differ in their last bits
    # between machines. The same text with every number within 4 units in the
    # last place still is scikit-learn's.
    ulps = within_ulps(current, regenerated)
    if ulps is not None:
        print(f"{args.check} matches scikit-learn {sklearn.__version__} within {ulps} units in the last place "
              "(NumPy's exp/log/power on this CPU)")
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        current.splitlines(keepends=True), regenerated.splitlines(keepends=True),
        "checked-in", "regenerated", n=1))
    print(f"{args.check} differs from scikit-learn {sklearn.__version__}'s values; "
          "regenerate it with --output", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
