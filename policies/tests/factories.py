"""factory_boy factories for the policies app (test set-up writes rows directly, bypassing the services)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory

from policies.models import Parameter, ParameterValue, PolicyDocument


class PolicyDocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PolicyDocument

    number = factory.Sequence(lambda n: f"台测试发〔2015〕{n}号")
    title = factory.Sequence(lambda n: f"测试政策文件第{n}号")
    issuer = "台州市人力资源和社会保障局"
    level = "city"
    effective_from = datetime.date(2015, 1, 1)
    insurances = factory.LazyFunction(lambda: ["emp_pension"])


class ParameterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Parameter

    code = factory.Sequence(lambda n: f"test.param_{n}")
    name = factory.Sequence(lambda n: f"测试参数{n}")
    kind = "rate"
    shape = ""
    category = "contribution"


class ParameterValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ParameterValue

    parameter = factory.SubFactory(ParameterFactory)
    kind = factory.LazyAttribute(lambda o: o.parameter.kind)
    valid_from = datetime.date(2020, 1, 1)
    valid_to = None
    value_decimal = Decimal("0.1")
    document = factory.SubFactory(PolicyDocumentFactory)
