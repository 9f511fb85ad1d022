"""The real city, its three districts and their townships (../shared/reference/offices.md).

Township codes are demo codes (district code + 3-digit sequence) until confirmed against the
current 统计用区划代码 list; ``code_is_demo`` says so in admin.
"""

from django.db import migrations

CITY = ("331000", "台州市社会保险事业管理服务中心", "市本级")
DISTRICTS = {
    ("331002", "椒江区社会保险服务中心", "椒江区"): [
        "海门街道",
        "白云街道",
        "葭沚街道",
        "洪家街道",
        "三甲街道",
        "下陈街道",
        "前所街道",
        "章安街道",
        "大陈镇",
    ],
    ("331003", "黄岩区社会保险服务中心", "黄岩区"): [
        "东城街道",
        "西城街道",
        "南城街道",
        "北城街道",
        "新前街道",
        "江口街道",
        "高桥街道",
        "澄江街道",
        "院桥镇",
        "沙埠镇",
        "头陀镇",
        "北洋镇",
        "宁溪镇",
        "上垟乡",
        "屿头乡",
        "上郑乡",
        "富山乡",
        "平田乡",
        "茅畲乡",
    ],
    ("331004", "路桥区社会保险服务中心", "路桥区"): [
        "路桥街道",
        "路南街道",
        "路北街道",
        "螺洋街道",
        "桐屿街道",
        "峰江街道",
        "新桥镇",
        "横街镇",
        "金清镇",
        "蓬街镇",
    ],
}


def load(apps, schema_editor):
    Office = apps.get_model("registry", "Office")
    code, name, short = CITY
    city = Office.objects.create(code=code, name=name, short_name=short, level=1, path=f"/{code}/")
    for (dcode, dname, dshort), townships in DISTRICTS.items():
        district = Office.objects.create(
            code=dcode, name=dname, short_name=dshort, level=2, parent=city, path=f"{city.path}{dcode}/"
        )
        for index, tname in enumerate(townships, start=1):
            tcode = f"{dcode}{index:03d}"
            Office.objects.create(
                code=tcode,
                name=f"{tname}劳动保障所",
                short_name=tname,
                level=3,
                parent=district,
                path=f"{district.path}{tcode}/",
                code_is_demo=True,
            )


def unload(apps, schema_editor):
    Office = apps.get_model("registry", "Office")
    for level in (4, 3, 2, 1):
        Office.objects.filter(level=level).delete()


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_enrollment_no_overlap_constraint")]

    operations = [migrations.RunPython(load, unload)]
