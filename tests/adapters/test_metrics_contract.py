"""The backend emits exactly the metric the JIT-HMACAuthFailures alarm watches."""

import json

from alarms.catalogue import CATALOGUE_BY_NAME
from backend.adapters.metrics import EmfMetrics
from jitwire.names import HMAC_AUTH_FAILURES_METRIC as HMAC_AUTH_FAILURES


def test_emf_line_has_no_dimensions_so_the_alarm_sees_it(capsys):
    EmfMetrics().record_auth_failure("bad_signature")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    total = next(line for line in lines if HMAC_AUTH_FAILURES in line)
    directive = total["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "JIT/Access"
    assert directive["Dimensions"] == [[]]
    by_reason = next(line for line in lines if "Reason" in line)
    assert by_reason["Reason"] == "bad_signature"
    alarm = CATALOGUE_BY_NAME["JIT-HMACAuthFailures"]
    assert alarm.metric.metric_name == HMAC_AUTH_FAILURES
    assert alarm.metric.dimensions == ()
