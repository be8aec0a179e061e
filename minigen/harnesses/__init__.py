"""What runs many families: the comparison harness and its reports, and the application experiments'
anomaly scores. These train families by name (minigen.training) and ask each one for what it defines
(its Recipe's evaluate, sample, features, anomaly_scores), never switching on a family's name.

    compare    every applicable family on a dataset, one budget, the same metrics, several seeds
    report     results.json, report.md and a self-contained report.html
    features   the feature extractor of the image metrics: the toolkit's classifier, trained once
    anomaly    anomaly scores by name, the families that define them

The measures themselves are minigen.metrics (below the families); ``minigen restore`` is
minigen.restore, which each family's Recipe plugs into.
"""
