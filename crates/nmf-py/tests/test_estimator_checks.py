"""scikit-learn's estimator checks on nmfkit's estimators, with the instances scikit-learn's own
test suite uses for its NMF and MiniBatchNMF. Every check runs; none is expected to fail."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from nmfkit import NMF, MiniBatchNMF


@parametrize_with_checks(
    [NMF(max_iter=500), MiniBatchNMF(batch_size=10, max_iter=20, fresh_restarts=True)]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
