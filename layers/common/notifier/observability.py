"""The one Logger and the one Metrics of every function.

Service name, namespace and log level come from the standard Powertools environment variables set in
the template's Globals (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL).
"""

import warnings

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()

# An invocation that only answered an error or a status read has no metric to publish; that is
# expected, and Powertools' warning about it would only add noise to every such log stream.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
