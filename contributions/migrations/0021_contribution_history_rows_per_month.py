"""Data: the migrated history, one row per person, month and insurance until now, becomes one row per person and
month (and district, or transfer case) with each insurance's base and amounts in its own columns. Reversible: the
way back writes one row per filled insurance again. The trigger of migration 0011/0019 lets the owner role delete
the old rows with the withdraw flag on (a migration runs as the owner)."""

from django.db import migrations

FORWARD = [
    """
    INSERT INTO contributions_contributionhistory (person_id, employer_id, period, office_id, source_batch_id,
        source_line, source_city, source_case_id, created_at, emp_pension_base, emp_pension_employer, emp_pension_individual, emp_medical_base, emp_medical_employer, emp_medical_individual, unemployment_base, unemployment_employer, unemployment_individual, work_injury_base, work_injury_employer, work_injury_individual, maternity_base, maternity_employer, maternity_individual, res_pension_base, res_pension_employer, res_pension_individual, res_medical_base, res_medical_employer, res_medical_individual, land_farmer_base, land_farmer_employer, land_farmer_individual)
    SELECT person_id, min(employer_id), period, office_id, source_batch_id, min(source_line), source_city,
        source_case_id, min(created_at),
        max(base) FILTER (WHERE insurance_type = 'emp_pension'), max(employer_amount) FILTER (WHERE insurance_type = 'emp_pension'), max(individual_amount) FILTER (WHERE insurance_type = 'emp_pension'),
        max(base) FILTER (WHERE insurance_type = 'emp_medical'), max(employer_amount) FILTER (WHERE insurance_type = 'emp_medical'), max(individual_amount) FILTER (WHERE insurance_type = 'emp_medical'),
        max(base) FILTER (WHERE insurance_type = 'unemployment'), max(employer_amount) FILTER (WHERE insurance_type = 'unemployment'), max(individual_amount) FILTER (WHERE insurance_type = 'unemployment'),
        max(base) FILTER (WHERE insurance_type = 'work_injury'), max(employer_amount) FILTER (WHERE insurance_type = 'work_injury'), max(individual_amount) FILTER (WHERE insurance_type = 'work_injury'),
        max(base) FILTER (WHERE insurance_type = 'maternity'), max(employer_amount) FILTER (WHERE insurance_type = 'maternity'), max(individual_amount) FILTER (WHERE insurance_type = 'maternity'),
        max(base) FILTER (WHERE insurance_type = 'res_pension'), max(employer_amount) FILTER (WHERE insurance_type = 'res_pension'), max(individual_amount) FILTER (WHERE insurance_type = 'res_pension'),
        max(base) FILTER (WHERE insurance_type = 'res_medical'), max(employer_amount) FILTER (WHERE insurance_type = 'res_medical'), max(individual_amount) FILTER (WHERE insurance_type = 'res_medical'),
        max(base) FILTER (WHERE insurance_type = 'land_farmer'), max(employer_amount) FILTER (WHERE insurance_type = 'land_farmer'), max(individual_amount) FILTER (WHERE insurance_type = 'land_farmer')
    FROM contributions_contributionhistory WHERE insurance_type IS NOT NULL
    GROUP BY person_id, period, office_id, source_batch_id, source_city, source_case_id
    """,
    "DELETE FROM contributions_contributionhistory WHERE insurance_type IS NOT NULL",
]

BACKWARD = [
    """
    INSERT INTO contributions_contributionhistory (person_id, employer_id, period, insurance_type, base,
        employer_amount, individual_amount, office_id, source_batch_id, source_line, source_city, source_case_id,
        created_at)
    SELECT person_id, employer_id, period, 'emp_pension', emp_pension_base, emp_pension_employer, emp_pension_individual, office_id, source_batch_id,
    source_line, source_city, source_case_id, created_at
FROM contributions_contributionhistory WHERE insurance_type IS NULL AND emp_pension_base IS NOT NULL
UNION ALL
SELECT person_id, employer_id, period, 'emp_medical', emp_medical_base, emp_medical_employer, emp_medical_individual, office_id, source_batch_id,
    source_line, source_city, source_case_id, created_at
FROM contributions_contributionhistory WHERE insurance_type IS NULL AND emp_medical_base IS NOT NULL
UNION ALL
SELECT person_id, employer_id, period, 'unemployment', unemployment_base, unemployment_employer, unemployment_individual, office_id, source_batch_id,
    source_line, source_city, source_case_id, created_at
FROM contributions_contributionhistory WHERE insurance_type IS NULL AND unemployment_base IS NOT NULL
UNION ALL
SELECT person_id, employer_id, period, 'work_injury', work_injury_base, work_injury_employer, work_injury_individual, office_id, source_batch_id,
    source_line, source_city, source_case_id, created_at
FROM contributions_contributionhistory WHERE insurance_type IS NULL AND work_injury_base IS NOT NULL
UNION ALL
SELECT person_id, employer_id, period, 'maternity', maternity_base, maternity_employer, maternity_individual, office_id, source_batch_id,
    source_line, source_city, source_case_id, created_at
FROM contributions_contributionhistory WHERE insurance_type IS NULL AND maternity_base IS NOT NULL
UNION ALL
SELECT person_id, employer_id, period, 'res_pension', res_pension_base, res_pension_employer, res_pension_individual, office_id, source_batch_id,
    source_line, source_city, source_case_id, created_at
FROM contributions_contributionhistory WHERE insurance_type IS NULL AND res_pension_base IS NOT NULL
UNION ALL
SELECT person_id, employer_id, period, 'res_medical', res_medical_base, res_medical_employer, res_medical_individual, office_id, source_batch_id,
    source_line, source_city, source_case_id, created_at
FROM contributions_contributionhistory WHERE insurance_type IS NULL AND res_medical_base IS NOT NULL
UNION ALL
SELECT person_id, employer_id, period, 'land_farmer', land_farmer_base, land_farmer_employer, land_farmer_individual, office_id, source_batch_id,
    source_line, source_city, source_case_id, created_at
FROM contributions_contributionhistory WHERE insurance_type IS NULL AND land_farmer_base IS NOT NULL
    """,
    "DELETE FROM contributions_contributionhistory WHERE insurance_type IS NULL",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute("SET LOCAL tzsi.history_withdraw = 'on'")
        for statement in statements:
            schema_editor.execute(statement)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute("SET LOCAL tzsi.history_withdraw = 'off'")

    return run


class Migration(migrations.Migration):
    dependencies = [("contributions", "0020_contribution_history_per_month_columns")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
