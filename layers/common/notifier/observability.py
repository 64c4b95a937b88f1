"""The one Logger and the one Metrics of every function.

Service name, namespace and log level come from the standard Powertools environment variables set in
the template's Globals (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL).
"""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
