# dev/data_metrics_expected.py: the expected numbers of the metrics tests in test/test_data.c,
# computed with scikit-learn. Run: ~/venv/bin/python dev/data_metrics_expected.py
# (dev only; the C tests hold the printed values and need no Python).
import numpy as np
from sklearn.metrics import (accuracy_score, brier_score_loss, classification_report, confusion_matrix,
                             f1_score, log_loss, precision_recall_fscore_support)

CASES = {
    "binary": dict(C=2, names=["negative", "positive"],
                   y=[0, 1, 1, 0, 1, 1, 0, 0, 1, 1],
                   p=[0, 1, 0, 0, 1, 1, 1, 0, 1, 0],
                   p1=[0.1, 0.8, 0.4, 0.3, 0.9, 0.7, 0.6, 0.2, 0.95, 0.45]),
    "three": dict(C=3, names=["World", "Sports", "Sci/Tech"],
                  y=[0, 1, 2, 2, 1, 0, 2, 1, 0, 2],
                  p=[0, 2, 2, 2, 1, 0, 0, 1, 1, 2],
                  probs=[[.7, .1, .2], [.2, .3, .5], [.1, .1, .8], [.3, .2, .5], [.1, .8, .1],
                         [.6, .3, .1], [.5, .2, .3], [.2, .6, .2], [.3, .4, .3], [.1, .2, .7]]),
    "zero_div": dict(C=3, names=["a", "b", "c"], y=[0, 0, 1, 1], p=[0, 1, 1, 1]),
}

for name, c in CASES.items():
    labels = list(range(c["C"]))
    y, p = c["y"], c["p"]
    print(f"== {name}")
    print("accuracy %.17g" % accuracy_score(y, p))
    P, R, F, S = precision_recall_fscore_support(y, p, labels=labels, zero_division=0)
    for k in labels:
        print("class %d  P %.17g  R %.17g  F1 %.17g  support %d" % (k, P[k], R[k], F[k], S[k]))
    for avg in ("macro", "weighted"):
        pa, ra, fa, _ = precision_recall_fscore_support(y, p, labels=labels, average=avg, zero_division=0)
        print("%s P %.17g R %.17g F1 %.17g" % (avg, pa, ra, fa))
    print("confusion", confusion_matrix(y, p, labels=labels).tolist())
    if c["C"] == 2:
        print("binary f1 %.17g" % f1_score(y, p, zero_division=0))
    if "p1" in c:
        p1 = np.array(c["p1"], dtype=np.float32).astype(np.float64)  # the C test passes floats
        print("log_loss %.17g" % log_loss(y, np.stack([1 - p1, p1], 1)))
        print("brier %.17g" % brier_score_loss(y, p1))
    if "probs" in c:
        pr = np.array(c["probs"], dtype=np.float32).astype(np.float64)
        # the C side does not renormalise; these rows sum to 1 up to float rounding
        print("log_loss %.17g" % -np.mean(np.log(pr[np.arange(len(y)), y])))
        print("log_loss sklearn %.17g" % log_loss(y, pr, labels=labels))
    print(classification_report(y, p, labels=labels, target_names=c["names"], zero_division=0), end="")
