"""OpenAPI examples of the contributions API (request and response bodies), kept out of ``api.py`` so the
endpoints read in one sitting; shown in Swagger UI (/api/docs/) next to each operation."""

from drf_spectacular.utils import OpenApiExample

DECLARATION_CREATE = [
    OpenApiExample(
        "申报",
        value={
            "employer": "3f1c2a9e-0000-4000-8000-000000000001",
            "period": "202611",
            "lines": [
                {"person": "3f1c2a9e-0000-4000-8000-000000000002", "base": "5000.00"},
                {"person": "3f1c2a9e-0000-4000-8000-000000000004", "base": "3000.00"},
            ],
        },
        request_only=True,
    ),
    OpenApiExample(
        "已申报（一人按下限核定）",
        value={
            "uid": "3f1c2a9e-0000-4000-8000-000000000010",
            "employer": "3f1c2a9e-0000-4000-8000-000000000001",
            "employer_name": "台州市黄岩精工模具有限公司",
            "period": 202611,
            "status": "open",
            "status_label": "可更正",
            "channel": "api",
            "line_count": 2,
            "clamped_count": 1,
            "base_total": "8600.00",
            "created_at": "2026-11-05T09:30:00+08:00",
            "updated_at": "2026-11-05T09:30:00+08:00",
            "lines": [
                {
                    "person": "3f1c2a9e-0000-4000-8000-000000000002",
                    "person_name": "张三",
                    "id_number_masked": "331003********1233",
                    "declared_base": "5000.00",
                    "base": "5000.00",
                    "clamp": "",
                    "clamp_label": "未调整",
                },
                {
                    "person": "3f1c2a9e-0000-4000-8000-000000000004",
                    "person_name": "李四",
                    "id_number_masked": "331003********1236",
                    "declared_base": "3000.00",
                    "base": "3600.00",
                    "clamp": "floor",
                    "clamp_label": "低于下限，按下限",
                },
            ],
        },
        response_only=True,
        status_codes=["201"],
    ),
]

PAYMENT_CREATE = [
    OpenApiExample(
        "单位到账",
        value={
            "agency_reference": "TAX-20261205-000123",
            "employer": "3f1c2a9e-0000-4000-8000-000000000001",
            "amount": "12345.67",
            "paid_on": "2026-12-05",
        },
        request_only=True,
    ),
    OpenApiExample(
        "已登记并分配",
        value={
            "uid": "3f1c2a9e-0000-4000-8000-000000000020",
            "agency_reference": "TAX-20261205-000123",
            "payer_type": "employer",
            "employer": "3f1c2a9e-0000-4000-8000-000000000001",
            "employer_name": "台州市黄岩精工模具有限公司",
            "person": None,
            "person_name": None,
            "office": "331003",
            "amount": "12345.67",
            "paid_on": "2026-12-05",
            "channel": "api",
            "recorded_at": "2026-12-05T10:02:11+08:00",
            "allocations": [
                {
                    "id": 101,
                    "bill": "3f1c2a9e-0000-4000-8000-000000000030",
                    "bill_period": 202611,
                    "insurance_type": "emp_pension",
                    "amount": "8000.00",
                    "reverses": None,
                    "note": "",
                    "created_at": "2026-12-05T10:02:11+08:00",
                },
                {
                    "id": 102,
                    "bill": "3f1c2a9e-0000-4000-8000-000000000030",
                    "bill_period": 202611,
                    "insurance_type": "emp_medical",
                    "amount": "4345.67",
                    "reverses": None,
                    "note": "",
                    "created_at": "2026-12-05T10:02:11+08:00",
                },
            ],
        },
        response_only=True,
        status_codes=["201"],
    ),
]

BILL_RUN_CREATE = [
    OpenApiExample("按区核定", value={"period": "202611", "scope": "district", "office": "331003"}, request_only=True)
]
