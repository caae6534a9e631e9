"""The README's quick-start example: seed 000's correlation classifier on sklearn's Digits."""

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from spikeforge.models import CorrelationClassifier

X, y = load_digits(return_X_y=True)
X_tr, X_te, y_tr, y_te = train_test_split(X, y, stratify=y, random_state=0)
clf = CorrelationClassifier(random_state=0).fit(X_tr, y_tr)  # STDP, defaults for new data
print(f"STDP (defaults):        {clf.score(X_te, y_te):.3f}")
mem = CorrelationClassifier.from_preset("digits", plasticity="memristive", random_state=0)
print(f"memristive (preset):    {mem.fit(X_tr, y_tr).score(X_te, y_te):.3f}")
