"""Parameter codes funds reads from policies.

The thresholds of months covered (``fund.warning.months.<insurance>``) and the sharing ratios
(``sharing.subsidy_rule``) are policies' own codes (``policies.codes``). Three more parameters are loaded
into the policies catalogue by ``funds/migrations/0004_load_fund_parameters`` (demo values, city-wide,
editable by policy officers like any other parameter); their codes are here until ``policies.codes``
adopts them:

=====================================  =======  ======================================================
code                                   kind     meaning
=====================================  =======  ======================================================
sharing.subsidy_method                 integer  1 = every party by the fixed ratios of sharing.subsidy_rule;
                                                2 = the city by its ratio, the districts' part by the
                                                share of the gap each district caused
fund.warning.budget_deviation          ratio    |actual ÷ budget to date − 1| above this warns
fund.warning.collection_rate           rate     collection rate (paid ÷ billed) below this warns
=====================================  =======  ======================================================
"""

from __future__ import annotations

from policies.codes import SHARING_SUBSIDY_RULE, fund_warning_code

SHARING_SUBSIDY_METHOD = "sharing.subsidy_method"
SHARING_METHOD_FIXED = 1
SHARING_METHOD_BY_CAUSE = 2
FUND_WARNING_BUDGET_DEVIATION = "fund.warning.budget_deviation"
FUND_WARNING_COLLECTION_RATE = "fund.warning.collection_rate"

__all__ = [
    "FUND_WARNING_BUDGET_DEVIATION",
    "FUND_WARNING_COLLECTION_RATE",
    "SHARING_METHOD_BY_CAUSE",
    "SHARING_METHOD_FIXED",
    "SHARING_SUBSIDY_METHOD",
    "SHARING_SUBSIDY_RULE",
    "fund_warning_code",
]
