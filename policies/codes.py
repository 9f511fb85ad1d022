"""Stable parameter codes: the names other apps use to ask ``policies.selectors`` for a value.

The catalogue itself (name, kind, unit, table shape) is data in the ``Parameter`` table, loaded by
migration ``0003_load_reference_data`` and extended by policy officers in admin. These constants
exist so that contributions, funds and cases never spell a code by hand.

Kinds (``ParameterKind``): ``rate`` (Decimal 0–1), ``amount`` (Decimal yuan, 2 places), ``ratio``
(Decimal ≥ 0, may exceed 1), ``months`` (int ≥ 0), ``integer`` (int), ``table`` (JSON, shape below).

=====================================  ======  =====================================================
code                                   kind    meaning
=====================================  ======  =====================================================
rate.<insurance>.employer              rate    employee contribution rate, employer share
rate.<insurance>.individual            rate    employee contribution rate, individual share
                                               (insurance: emp_pension, emp_medical, unemployment,
                                               maternity)
rate.flex.emp_pension                  rate    灵活就业 pension rate (whole, paid by the person)
rate.flex.emp_medical                  rate    灵活就业 medical rate
rate.work_injury.benchmark             table   by_risk_class {"1": "0.002", … "8": "0.019"}
rate.work_injury.float_grades          table   float_grades {"1": ["1", "1.2", "1.5"], "2": ["0.5", …]}
base.floor_ratio                       ratio   contribution base floor ÷ average wage (0.6)
base.ceiling_ratio                     ratio   contribution base ceiling ÷ average wage (3)
wage.average_monthly                   amount  published average monthly wage for the contribution year
wage.minimum_monthly                   amount  minimum monthly wage (first tier)
res_pension.grades                     table   grades [{"grade": 1, "amount": "100", "subsidy": "30"}, …]
res_pension.subsidy_city_share         ratio   city share of the resident pension subsidy (migration 0004)
res_medical.individual                 amount  resident medical individual contribution, yuan/person/year
res_medical.subsidy                    amount  resident medical fiscal subsidy, yuan/person/year
res_medical.subsidy_city_share         ratio   city share of that subsidy (districts pay the rest)
res_medical.waiting_months             months  waiting period after late enrolment
res_medical.waiting_months_per_gap_year months extra waiting months per year of broken cover
land_farmer.funding_per_person         amount  one-off funding per enrolled person
land_farmer.shares                     table   shares {"government", "collective", "individual"}
land_farmer.benefit_monthly            amount  monthly benefit standard
benefit.res_pension.basic_monthly      amount  resident basic pension, basic amount per month
benefit.unemployment.ratio_of_min_wage ratio   unemployment benefit ÷ minimum wage
benefit.unemployment.max_months        months  longest unemployment benefit period
benefit.emp_pension.min_contribution_months months  contribution months needed for a monthly pension
benefit.maternity.leave_days           table   counts {"1": 158, "2": 188, "3": 188} maternity leave days by
                                               birth order (migration 0008)
benefit.maternity.day_divisor          integer days the employer's average monthly wage is divided by (30)
benefit.emp_pension.adjustment_monthly amount  one pension adjustment (调待), yuan a month added from valid_from
benefit.res_pension.adjustment_monthly amount  to every pension that started before it (payroll, migration 0002)
benefit.work_injury.disability_months  table   counts {"1": 27, … "10": 7} months' wage of the one-off
                                               disability subsidy by grade
transfer.emp_pension.pooled_rate       rate    share of the bases paid since 1998 moved with a pension
                                               transfer out of the city (0.12)
fund.warning.months.<insurance>        table   thresholds {"alarm_below": "3", "warn_below": "6",
                                               "excess_above": "15"} in months of payment covered
late_fee.daily_rate                    rate    late payment fee per day of arrears (0.0005)
collection.due_day                     integer day of the next month a monthly bill falls due (migration 0004)
fine.arrears_multiple_min / _max       ratio   fine for arrears unpaid after the deadline, × arrears
money.rounding                         table   rounding {"places": 2, "mode": "ROUND_HALF_UP"}
sharing.subsidy_rule                   table   shares {"city", "331002", "331003", "331004"}
case.time_limit_days.registration      integer working days to complete an insurance registration
case.time_limit_days.work_injury_report_employer  integer  days for the employer's injury report
case.time_limit_months.work_injury_report_worker  months   months for the worker's own report
=====================================  ======  =====================================================
"""

from __future__ import annotations

RATE_EMP_PENSION_EMPLOYER = "rate.emp_pension.employer"
RATE_EMP_PENSION_INDIVIDUAL = "rate.emp_pension.individual"
RATE_EMP_MEDICAL_EMPLOYER = "rate.emp_medical.employer"
RATE_EMP_MEDICAL_INDIVIDUAL = "rate.emp_medical.individual"
RATE_UNEMPLOYMENT_EMPLOYER = "rate.unemployment.employer"
RATE_UNEMPLOYMENT_INDIVIDUAL = "rate.unemployment.individual"
RATE_MATERNITY_EMPLOYER = "rate.maternity.employer"
RATE_MATERNITY_INDIVIDUAL = "rate.maternity.individual"
RATE_FLEX_EMP_PENSION = "rate.flex.emp_pension"
RATE_FLEX_EMP_MEDICAL = "rate.flex.emp_medical"
RATE_WORK_INJURY_BENCHMARK = "rate.work_injury.benchmark"
RATE_WORK_INJURY_FLOAT_GRADES = "rate.work_injury.float_grades"

BASE_FLOOR_RATIO = "base.floor_ratio"
BASE_CEILING_RATIO = "base.ceiling_ratio"
WAGE_AVERAGE_MONTHLY = "wage.average_monthly"
WAGE_MINIMUM_MONTHLY = "wage.minimum_monthly"

RES_PENSION_GRADES = "res_pension.grades"
RES_PENSION_SUBSIDY_CITY_SHARE = "res_pension.subsidy_city_share"
RES_MEDICAL_INDIVIDUAL = "res_medical.individual"
RES_MEDICAL_SUBSIDY = "res_medical.subsidy"
RES_MEDICAL_SUBSIDY_CITY_SHARE = "res_medical.subsidy_city_share"
RES_MEDICAL_WAITING_MONTHS = "res_medical.waiting_months"
RES_MEDICAL_WAITING_MONTHS_PER_GAP_YEAR = "res_medical.waiting_months_per_gap_year"

LAND_FARMER_FUNDING_PER_PERSON = "land_farmer.funding_per_person"
LAND_FARMER_SHARES = "land_farmer.shares"
LAND_FARMER_BENEFIT_MONTHLY = "land_farmer.benefit_monthly"

BENEFIT_RES_PENSION_BASIC_MONTHLY = "benefit.res_pension.basic_monthly"
BENEFIT_UNEMPLOYMENT_RATIO_OF_MIN_WAGE = "benefit.unemployment.ratio_of_min_wage"
BENEFIT_UNEMPLOYMENT_MAX_MONTHS = "benefit.unemployment.max_months"
BENEFIT_EMP_PENSION_MIN_CONTRIBUTION_MONTHS = "benefit.emp_pension.min_contribution_months"
BENEFIT_MATERNITY_LEAVE_DAYS = "benefit.maternity.leave_days"
BENEFIT_MATERNITY_DAY_DIVISOR = "benefit.maternity.day_divisor"
BENEFIT_WORK_INJURY_DISABILITY_MONTHS = "benefit.work_injury.disability_months"
# 调待: each dated value is one yearly adjustment, added to every pension that started before its valid_from
# (payroll migration 0002; payroll.services.amounts).
BENEFIT_EMP_PENSION_ADJUSTMENT_MONTHLY = "benefit.emp_pension.adjustment_monthly"
BENEFIT_RES_PENSION_ADJUSTMENT_MONTHLY = "benefit.res_pension.adjustment_monthly"
# Codes that have a value only once a decision is entered (an adjustment), never a standing city-wide value.
EVENT_CODES = (BENEFIT_EMP_PENSION_ADJUSTMENT_MONTHLY, BENEFIT_RES_PENSION_ADJUSTMENT_MONTHLY)
TRANSFER_EMP_PENSION_POOLED_RATE = "transfer.emp_pension.pooled_rate"

LATE_FEE_DAILY_RATE = "late_fee.daily_rate"
COLLECTION_DUE_DAY = "collection.due_day"
COLLECTION_ORDER_LIMIT_DAYS = "collection.order_limit_days"
FINE_ARREARS_MULTIPLE_MIN = "fine.arrears_multiple_min"
FINE_ARREARS_MULTIPLE_MAX = "fine.arrears_multiple_max"
MONEY_ROUNDING = "money.rounding"
SHARING_SUBSIDY_RULE = "sharing.subsidy_rule"

CASE_TIME_LIMIT_DAYS_REGISTRATION = "case.time_limit_days.registration"
CASE_TIME_LIMIT_DAYS_WORK_INJURY_REPORT_EMPLOYER = "case.time_limit_days.work_injury_report_employer"
CASE_TIME_LIMIT_MONTHS_WORK_INJURY_REPORT_WORKER = "case.time_limit_months.work_injury_report_worker"

FUND_WARNING_INSURANCES = (
    "emp_pension",
    "emp_medical",
    "unemployment",
    "work_injury",
    "maternity",
    "res_pension",
    "res_medical",
    "land_farmer",
)


def rate_code(insurance: str, payer: str) -> str:
    """``rate.<insurance>.<employer|individual>`` for the employee insurances."""
    return f"rate.{insurance}.{payer}"


def fund_warning_code(insurance: str) -> str:
    return f"fund.warning.months.{insurance}"


# Pairs (lower, upper) whose values in one period must keep lower ≤ upper.
BOUND_PAIRS: tuple[tuple[str, str], ...] = (
    (BASE_FLOOR_RATIO, BASE_CEILING_RATIO),
    (FINE_ARREARS_MULTIPLE_MIN, FINE_ARREARS_MULTIPLE_MAX),
)
