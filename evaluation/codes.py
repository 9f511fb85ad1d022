"""Parameter codes the evaluation reads from policies (loaded by migration 0003; docs/evaluation.md)."""

EVALUATION_WEIGHTS = "evaluation.weights"  # table (shares): volume, on_time, rating, collection — sum 1
EVALUATION_FUNDING_POOL = "evaluation.funding_pool"  # amount: yuan per year

COMPONENTS = ("volume", "on_time", "rating", "collection")
