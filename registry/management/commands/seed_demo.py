"""Fast synthetic Taizhou data: community offices, employers, persons and enrollments.

Rows are generated in Python by one seeded generator (a given --seed and database state gives the
same rows on both backends, apart from the uids, which always come from os.urandom) and written
set-based: COPY on PostgreSQL (persons and their enrollments formatted in a thread while the database
takes in the previous chunk), bulk_create on SQLite.
"""

from __future__ import annotations

import datetime
import io
import os
import queue
import random
import threading
import time
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from stdnum.cn import ric, uscc

from registry.models import (
    CardStatus,
    Employer,
    EmployerStatus,
    EmployerType,
    Enrollment,
    InsuranceType,
    Office,
    OfficeLevel,
    Person,
)
from registry.names import name_pinyin

# Table names for the raw SQL below, from the models (never written by hand).
_EMPLOYER = Employer._meta.db_table
_ENROLLMENT = Enrollment._meta.db_table
_OFFICE = Office._meta.db_table
_PERSON = Person._meta.db_table

DISTRICT_CODES = ("331002", "331003", "331004")

# --- reference tables -------------------------------------------------------------------------

# Surnames common in Taizhou, with rough relative frequencies.
SURNAMES = {
    "王": 70, "陈": 70, "林": 60, "李": 50, "张": 50, "黄": 30, "郑": 30, "周": 30, "徐": 25, "杨": 20,
    "吴": 20, "金": 20, "叶": 20, "刘": 20, "蔡": 15, "梁": 15, "潘": 15, "蒋": 15, "赵": 15, "朱": 15,
    "胡": 15, "许": 10, "应": 10, "方": 10, "罗": 10, "卢": 10, "何": 10, "牟": 8, "陶": 8, "郭": 8,
    "孙": 8, "谢": 8, "江": 6, "洪": 6, "章": 6, "戴": 6, "毛": 6, "丁": 6, "马": 6, "沈": 6,
    "颜": 5, "管": 5, "阮": 5, "项": 5, "夏": 5, "韩": 5, "彭": 5, "冯": 5, "董": 5, "姚": 5,
    "狄": 4, "鲍": 4, "柯": 4, "袁": 4, "邵": 4, "汪": 4, "任": 4, "钱": 4, "於": 3, "池": 3,
    "屈": 3, "贾": 3, "泮": 2, "欧阳": 1, "司马": 1,
}  # fmt: skip

# Given-name characters by generation (born before 1965, 1965-1989, 1990 on) and sex.
GIVEN = {
    ("old", "M"): "国建华明德金荣富春根福才永忠志文林海宝庆云松贵友水兴法",
    ("old", "F"): "秀英兰芳玉珍凤美娟华仙菊梅花彩月琴萍素爱香金桂莲",
    ("mid", "M"): "伟强军杰勇斌波磊涛明峰辉鹏飞俊刚雷海东亮文志成康永兵剑锋建新江",
    ("mid", "F"): "芳娟敏静丽燕霞玲红萍婷雪琳莉慧颖洁倩娜琴艳梅英佳丹晓",
    ("young", "M"): "浩宇轩昊晨阳杰睿博凯铭泽俊逸豪航子诚磊鑫瑞宁昕",
    ("young", "F"): "欣怡婷雅琪晶露涵萱佳梦琳妍悦瑶思诗雨静可雯蕾",
}
GIVEN_FIRST = {  # first of two given characters
    ("old", "M"): "小金国建福春永新",
    ("old", "F"): "小金秀玉春彩",
    ("mid", "M"): "晓小建海志新永家文立益正明",
    ("mid", "F"): "晓小海新佳丽立益明红",
    ("young", "M"): "子梓思一嘉俊浩宇晨",
    ("young", "F"): "子梓思一佳雨可嘉若欣",
}

# Area codes outside the three districts (see registry.identifiers: unknown codes are only warnings).
TAIZHOU_COUNTIES = ("331081", "331082", "331083", "331022", "331023", "331024")
OTHER_PROVINCES = (
    "522422", "522426", "520221", "342422", "341221", "362329", "513030", "511321",
    "430524", "431021", "421127", "412723", "532128", "500234", "452130",
)  # fmt: skip
# Codes of the Taizhou prefecture before 1994, as printed on numbers issued then.
OLD_CODES = {"331002": ("332601",), "331003": ("332603", "332622"), "331004": ("332603", "332622")}
PERMITS = ("810000", "820000", "830000", "830000")

MOBILE_PREFIXES = tuple(
    str(p) for p in (*range(130, 140), *range(150, 160), 176, 177, 178, *range(180, 190), 198, 199) if p != 154
)
ROADS = {
    "331002": ("市府大道", "中山路", "东海大道", "开发大道", "解放路", "青年路", "白云山路", "枫南路", "葭沚路", "工人路"),
    "331003": ("劳动路", "天长路", "双江路", "环城路", "北院大道", "东浦路", "江北大道", "青年路", "锦江路", "桔乡大道"),
    "331004": ("路桥大道", "南官大道", "西路桥大道", "银安街", "石曲街", "腾达路", "商城路", "富仕路", "长鑫路", "东路桥大道"),
}  # fmt: skip
COMMUNITY_NAMES = (
    "东山", "西湖", "南门", "北街", "新华", "江滨", "文化", "建设", "和平", "前进", "光明", "幸福", "振兴", "东升",
    "城西", "城东", "百花", "金桥", "新安", "锦绣", "华景", "滨海", "府前", "青年",
)  # fmt: skip
VILLAGE_NAMES = (
    "前洋", "后洋", "下洋", "上王", "中王", "西岙", "东岙", "山前", "塘下", "沙岙", "里岙", "新塘", "洋屿", "横河",
    "桥头", "岭下", "坦头", "溪口", "下街", "山后", "岙里", "前林", "后林", "徐家", "金家", "东林",
)  # fmt: skip

TRADE_FIRST = "华鑫宏海永金新天东恒双星钱精银三嘉博瑞中浩伟富明大兴利盛达创"
TRADE_SECOND = "远源达正强鹰力鼎海盛林星江诚河友禾大丰成宇泰通阳信隆科发祥"

# (industry, risk class, name words, share among enterprises)
INDUSTRIES = (
    ("汽车零部件及配件制造", 4, ("汽车部件", "汽配", "车业"), 12),
    ("塑料制品业", 4, ("塑业", "塑料制品"), 10),
    ("模具制造", 4, ("模具", "模塑"), 8),
    ("通用设备制造业", 4, ("机械", "泵业", "阀门", "缝纫机", "机电"), 14),
    ("电气机械和器材制造业", 3, ("电器", "电机", "电子"), 8),
    ("医药制造业", 3, ("药业", "制药"), 3),
    ("化学原料和化学制品制造业", 5, ("化工",), 2),
    ("金属制品业", 5, ("五金", "金属制品"), 6),
    ("眼镜制造", 3, ("眼镜",), 3),
    ("道路运输业", 5, ("物流", "运输"), 4),
    ("房屋建筑业", 6, ("建设", "建筑工程"), 4),
    ("土木工程建筑业", 7, ("市政工程", "交通工程"), 2),
    ("非金属矿采选业", 8, ("石材",), 1),
    ("批发业", 2, ("贸易", "商贸"), 10),
    ("餐饮业", 2, ("餐饮管理",), 3),
    ("住宿业", 2, ("酒店管理",), 2),
    ("软件和信息技术服务业", 1, ("网络科技", "信息技术"), 5),
    ("商务服务业", 1, ("企业管理咨询", "人力资源"), 3),
)
SHOPS = (  # individual businesses: (shop word, industry, risk class)
    ("五金店", "零售业", 2), ("小吃店", "餐饮业", 2), ("便利店", "零售业", 2), ("服装店", "零售业", 2),
    ("汽车修理厂", "机动车维修", 3), ("理发店", "居民服务业", 1), ("水果店", "零售业", 2), ("面馆", "餐饮业", 2),
    ("家电维修部", "居民服务业", 1), ("副食品商店", "零售业", 2),
)  # fmt: skip
PUBLIC = (  # public institutions: (name pattern, industry, risk class)
    ("{township}社区卫生服务中心", "卫生", 2), ("{township}中心小学", "教育", 1), ("{township}中学", "教育", 1),
    ("{township}中心幼儿园", "教育", 1), ("{township}农业综合服务中心", "公共管理和社会组织", 1),
    ("{township}文化站", "公共管理和社会组织", 1),
)  # fmt: skip

EMPLOYEE, RESIDENT_BOTH, RESIDENT_MEDICAL, FLEXIBLE = 1, 2, 3, 4
KIND_TYPES = {
    EMPLOYEE: (
        InsuranceType.EMPLOYEE_PENSION,
        InsuranceType.EMPLOYEE_MEDICAL,
        InsuranceType.UNEMPLOYMENT,
        InsuranceType.WORK_INJURY,
        InsuranceType.MATERNITY,
    ),
    RESIDENT_BOTH: (InsuranceType.RESIDENT_PENSION, InsuranceType.RESIDENT_MEDICAL),
    RESIDENT_MEDICAL: (InsuranceType.RESIDENT_MEDICAL,),
    FLEXIBLE: (InsuranceType.EMPLOYEE_PENSION, InsuranceType.EMPLOYEE_MEDICAL),
}

FIRST_BIRTH = datetime.date(1930, 1, 1)
LAST_BIRTH = datetime.date(2008, 12, 31)
DISTRICT_SHORT = {"331002": "椒江", "331003": "黄岩", "331004": "路桥"}
# The 17th hex digit of a version-4 UUID carries the variant bits 10xx.
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


def _weight_all(year: int) -> float:
    """Adults living in the three districts by birth year (rough population pyramid)."""
    if year < 1940:
        return 0.2 + 0.05 * (year - 1930)
    if year < 1950:
        return 0.8
    if year < 1960:
        return 1.2
    if year < 1980:
        return 1.6
    if year < 2000:
        return 1.5
    return 1.0


def _weight_worker(year: int) -> float:
    """Employees by birth year: working age, a thin tail of re-employed pensioners."""
    if year < 1956:
        return 0.02
    if year < 1966:
        return 0.4
    if year < 1976:
        return 1.2
    if year < 2001:
        return 1.6
    return 0.8


@cache
def _py(text: str) -> str:
    return name_pinyin(text)[0]


def _uuid4_hex(hexes: str, i: int) -> str:
    """The i-th version-4 UUID (32 hex digits) cut from a string of random hex digits."""
    h = hexes[32 * i : 32 * i + 32]
    return f"{h[:12]}4{h[13:16]}{_VARIANT[h[16]]}{h[17:]}"


def _org_check(body: str) -> str:
    """Check character of the 9-character organisation code (GB 11714) inside a credit code."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c, 36) * w for c, w in zip(body, weights, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


@dataclass(frozen=True)
class Place:
    """A township or community where persons live and employers are registered."""

    id: int
    district: str
    township: str  # short name of the township
    urban: bool
    address: str  # 浙江省台州市…, the part of an address above the street
    village: str  # village name for addresses without a street, else ""
    community: bool  # a level-4 office


# --- generation -------------------------------------------------------------------------------


class Generator:
    """Row generator. Rows are tuples of strings (``null`` for SQL NULL) in the column order of the COPY."""

    def __init__(self, *, seed: Any, places: list[Place], today: datetime.date, null: str | None) -> None:
        self.rng = random.Random(seed)
        self.places = places
        self.null = null
        self.now = timezone.now().isoformat()
        # Registration place: communities slightly preferred over the township office itself.
        self.place_cw = list(accumulate(1.2 if p.community else 1.0 for p in places))
        self.place_rows = [
            (
                str(p.id),
                p.district,
                p.address,
                None if p.village else ROADS[p.district],
                0.75 if p.urban else 0.3,
                OLD_CODES[p.district],
            )
            for p in places
        ]
        # Birth days 1930-2008 with the month (as year * 12 + month - 1) of the 16th birthday and the generation.
        self.days: list[tuple[str, str, int, str, int]] = []
        day, one = FIRST_BIRTH, datetime.timedelta(days=1)
        while day <= LAST_BIRTH:
            generation = "old" if day.year < 1965 else "mid" if day.year < 1990 else "young"
            self.days.append(
                (
                    f"{day.year:04d}{day.month:02d}{day.day:02d}",
                    day.isoformat(),
                    (day.year + 16) * 12 + day.month - 1,
                    generation,
                    day.year,
                )
            )
            day += one
        self.cw_all = list(accumulate(_weight_all(d[4]) for d in self.days))
        self.cw_worker = list(accumulate(_weight_worker(d[4]) for d in self.days))
        # Enrollment start months: the first of a month, at the latest the month before this one.
        self.month_base = 1946 * 12
        self.latest_month = today.year * 12 + today.month - 2
        self.month_iso = [f"{m // 12:04d}-{m % 12 + 1:02d}-01" for m in range(self.month_base, self.latest_month + 1)]
        self.surnames = [(s, _py(s), "".join(_py(c)[0] for c in s)) for s in SURNAMES]
        self.surname_cw = list(accumulate(SURNAMES.values()))
        # Given names with pinyin and initials: about 70 % two characters, 30 % one.
        self.given: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for (generation, sex), pool in GIVEN.items():
            doubles = [f + g for f in GIVEN_FIRST[(generation, sex)] for g in pool if f != g]
            repeat = max(1, round(0.3 / 0.7 * len(doubles) / len(pool)))
            names = doubles + [g for g in pool for _ in range(repeat)]
            self.given[(generation, sex)] = [
                (n, "".join(_py(c) for c in n), "".join(_py(c)[0] for c in n)) for n in names
            ]
        self.industry_cw = list(accumulate(i[3] for i in INDUSTRIES))

    # employers ----------------------------------------------------------------------------

    def employers(self, *, first_id: int, count: int, counter: int, taken: set[str]) -> list[tuple]:
        """Rows in EMPLOYER_COLUMNS order."""
        rng = self.rng
        r = rng.random
        places = rng.choices(self.places, cum_weights=self.place_cw, k=count)
        hexes = os.urandom(16 * count).hex()
        rows = []
        for i, place in enumerate(places):
            u = r()
            trade = rng.choice(TRADE_FIRST) + rng.choice(TRADE_SECOND)
            district_short = DISTRICT_SHORT[place.district]
            if u < 0.84:
                prefix, etype = "91", EmployerType.ENTERPRISE
                industry, risk, words, _share = INDUSTRIES[bisect_right(self.industry_cw, r() * self.industry_cw[-1])]
                word = rng.choice(words)
                v = r()
                if v < 0.6:
                    parts = ("台州", trade, word, "有限公司")
                elif v < 0.85:
                    parts = ("台州市", district_short, trade, word, "有限公司")
                else:
                    parts = ("浙江", trade, word, "股份有限公司")
            elif u < 0.95:
                prefix, etype = "92", EmployerType.INDIVIDUAL
                word, industry, risk = rng.choice(SHOPS)
                parts = (district_short + "区", trade, word)
            else:
                prefix, etype = "12", EmployerType.PUBLIC
                pattern, industry, risk = rng.choice(PUBLIC)
                parts = ("台州市", district_short + "区", pattern.format(township=place.township))
            # Chars 9-17: an organisation code from a scrambled counter, unique across runs.
            while True:
                body = f"{(counter * 61803399 + 27182818) % 10**8:08d}"
                counter += 1
                code17 = prefix + place.district + body + _org_check(body)
                code = code17 + uscc.calc_check_digit(code17)
                if code not in taken:
                    taken.add(code)
                    break
            rows.append(
                (
                    str(first_id + i),
                    _uuid4_hex(hexes, i),
                    code,
                    "".join(parts),
                    "".join(_py(part) for part in parts)[:120],
                    etype.value,
                    industry,
                    str(risk),
                    EmployerStatus.ACTIVE.value,
                    self.now,
                    self.now,
                    str(place.id),
                )
            )
        return rows

    # persons --------------------------------------------------------------------------------

    def persons(
        self,
        *,
        first_id: int,
        count: int,
        taken: set[str],
        employers: list[tuple[str, str]],
        employer_cw: list[float],
        employee_share: float,
        flexible_share: float,
    ) -> tuple[list[tuple], list[tuple]]:
        """Rows in PERSON_COLUMNS order, and one enrollment plan row per person in PLAN_COLUMNS order.

        The draws of one person come in a fixed order (kind, sex, identity number, name, phone, address, card,
        household, plan start): a seed gives the same persons.
        """
        rng = self.rng
        r = rng.random
        if not employers:
            employee_share = 0.0
        flexible_end = employee_share + min(flexible_share, 1.0 - employee_share)
        worker_days = rng.choices(self.days, cum_weights=self.cw_worker, k=count)
        other_days = rng.choices(self.days, cum_weights=self.cw_all, k=count)
        chosen_employers = rng.choices(employers, cum_weights=employer_cw, k=count) if employers else []
        places = rng.choices(self.place_rows, cum_weights=self.place_cw, k=count)
        surnames = rng.choices(self.surnames, cum_weights=self.surname_cw, k=count)
        hexes = os.urandom(16 * count).hex()
        persons: list[tuple] = []
        plans: list[tuple] = []
        for i in range(count):
            pid = first_id + i
            place = places[i]
            u = r()
            if u < employee_share:
                (employer_id, office_id), born = chosen_employers[i], worker_days[i]
                kind, male, low = "1", r() < 0.55, 1995 * 12
            else:
                employer_id, office_id, born = self.null, place[0], other_days[i]
                male = r() < 0.49
                kind, low = ("4", 2000 * 12) if u < flexible_end else ("2" if r() < 0.85 else "3", 2010 * 12)
            number = self._id_number(place=place, born=born, male=male, taken=taken)
            persons.append(
                self._person_row(
                    pid=pid,
                    uid=_uuid4_hex(hexes, i),
                    number=number,
                    born=born,
                    male=male,
                    place=place,
                    surname=surnames[i],
                )
            )
            plans.append((str(pid), kind, employer_id, office_id, self._plan_start(low=low, adult_month=born[2])))
        return persons, plans

    def _id_number(self, *, place: tuple, born: tuple, male: bool, taken: set[str]) -> str:
        """A new identity number: mostly of the district, older ones of the pre-1994 prefecture codes, some migrants."""
        r = self.rng.random
        _place_id, district, _address, _roads, _urban_share, old_codes = place
        ymd, _iso, _adult_month, _generation, year = born
        u = r()
        if u < 0.015:
            area = PERMITS[int(r() * 4)]
        elif u < 0.15:
            area = OTHER_PROVINCES[int(r() * len(OTHER_PROVINCES))]
        elif u < 0.22:
            area = TAIZHOU_COUNTIES[int(r() * len(TAIZHOU_COUNTIES))]
        elif u < 0.40 and year < 1994:
            area = old_codes[int(r() * len(old_codes))]
        else:
            area = district
        body = area + ymd
        odd = 1 if male else 2
        while True:
            number = f"{body}{int(r() * 499) * 2 + odd:03d}"
            number += ric.calc_check_digit(number + "0")
            if number not in taken:
                taken.add(number)
                return number

    def _person_row(
        self, *, pid: int, uid: str, number: str, born: tuple, male: bool, place: tuple, surname: tuple
    ) -> tuple:
        """One row in PERSON_COLUMNS order."""
        r = self.rng.random
        place_id, _district, address, roads, urban_share, _old_codes = place
        _ymd, iso, _adult_month, generation, year = born
        surname, surname_py, surname_ini = surname
        pool = self.given[(generation, "M" if male else "F")]
        given, given_py, given_ini = pool[int(r() * len(pool))]
        phone = self._phone(year)
        if roads is None:
            address_line = f"{address}{int(r() * 300) + 1}号"
        else:
            address_line = f"{address}{roads[int(r() * len(roads))]}{int(r() * 800) + 1}号"
        if r() < 0.93:  # issued card numbers follow the person's sequence
            card, status = f"{'ABCDEFGHJ'[pid // 10**8 % 9]}{pid % 10**8:08d}", CardStatus.ACTIVE.value
        else:
            card, status = self.null, CardStatus.NONE.value
        return (
            str(pid),
            uid,
            number,
            surname + given,
            (surname_py + given_py)[:120],
            (surname_ini + given_ini)[:20],
            "M" if male else "F",
            iso,
            "urban" if r() < urban_share else "rural",
            phone,
            address_line,
            card,
            status,
            self.now,
            self.now,
            place_id,
        )

    def _phone(self, year: int) -> str:
        """Some have none, some older persons a landline, most a mobile."""
        r = self.rng.random
        u = r()
        if u < 0.05:
            return ""
        if u < 0.12 and year < 1960:
            return f"0576-8{int(r() * 10**7):07d}"
        return f"{MOBILE_PREFIXES[int(r() * len(MOBILE_PREFIXES))]}{int(r() * 10**8):08d}"

    def _plan_start(self, *, low: int, adult_month: int) -> str:
        """Enrollment starts on the first of a month in the past, not before the 16th birthday."""
        low = min(max(low, adult_month), self.latest_month)
        return self.month_iso[low + int(self.rng.random() * (self.latest_month - low + 1)) - self.month_base]


# --- writing ----------------------------------------------------------------------------------

EMPLOYER_COLUMNS = (
    "id", "uid", "credit_code", "name", "name_pinyin", "employer_type", "industry", "risk_class", "status",
    "created_at", "updated_at", "office_id",
)  # fmt: skip
PERSON_COLUMNS = (
    "id", "uid", "id_number", "name", "name_pinyin", "name_initials", "sex", "birth_date", "household_type", "phone",
    "address", "card_number", "card_status", "created_at", "updated_at", "residence_office_id",
)  # fmt: skip
ENROLLMENT_COLUMNS = (
    "uid", "insurance_type", "is_flexible", "start_date", "end_date", "created_at", "updated_at", "employer_id",
    "office_id", "person_id",
)  # fmt: skip
PG_NULL = "\\N"


def _tsv(rows: list[tuple]) -> str:
    """COPY text format; the generated values contain no tab, newline or backslash."""
    return "\n".join(map("\t".join, rows)) + "\n" if rows else ""


def _copy(table: str, columns: tuple[str, ...], data: str) -> None:
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if hasattr(raw, "copy_expert"):  # psycopg2
            raw.copy_expert(sql, io.StringIO(data), size=1 << 20)
        else:  # psycopg 3
            with raw.copy(sql) as copy:
                copy.write(data)


def _enrollment_tsv(plans: list[tuple], now: str) -> str:
    """The enrollments of one chunk of plans, in ENROLLMENT_COLUMNS order, as COPY text.

    Formatted here rather than expanded by an INSERT ... SELECT in the database: COPY writes the heap in
    batches, and this runs in the generator thread, beside the database's work.
    """
    hexes = os.urandom(16 * max(len(types) for types in KIND_TYPES.values()) * len(plans)).hex()
    # Per kind: the text between the uid and the start date, for each of its insurance types.
    middles = {
        str(kind): [f"\t{itype.value}\t{'t' if kind == FLEXIBLE else 'f'}\t" for itype in types]
        for kind, types in KIND_TYPES.items()
    }
    tail = f"\t{PG_NULL}\t{now}\t{now}\t"
    lines = []
    i = 0
    for pid, kind, employer_id, office_id, start in plans:
        rest = f"{start}{tail}{employer_id}\t{office_id}\t{pid}\n"
        for middle in middles[kind]:
            h = hexes[32 * i : 32 * i + 32]
            lines.append(f"{h[:12]}4{h[13:16]}{_VARIANT[h[16]]}{h[17:]}{middle}{rest}")
            i += 1
    return "".join(lines)


def _scalar(sql: str, params: list | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def _reserve_ids(table: str, count: int) -> int:
    """First of ``count`` consecutive free primary keys of ``table`` (the table is locked by the caller)."""
    after_max = _scalar(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
    if connection.vendor != "postgresql":
        return after_max
    seq = _scalar("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    first = max(_scalar("SELECT nextval(%s)", [seq]), after_max)
    _scalar("SELECT setval(%s, %s)", [seq, first + max(count, 1) - 1])
    return first


SEEDED_TABLES = (_EMPLOYER, _PERSON, _ENROLLMENT)
# A load of at least this many persons into a table holding no more than that drops the B-tree indexes of
# the person and enrollment tables first and builds them afresh afterwards (see _drop_btree_indexes).
BULK_MIN_PERSONS = 100_000
# The B-tree indexes of a table that can be dropped for a bulk load and the statements that re-create them:
# all but the primary key, an index backing an exclusion constraint, and an index a foreign key relies on.
# Unique constraints are dropped and re-added as constraints, which checks them again.
DROPPABLE_INDEXES_SQL = """
SELECT CASE WHEN con.oid IS NULL THEN format('DROP INDEX %%I.%%I', n.nspname, ic.relname)
            ELSE format('ALTER TABLE %%s DROP CONSTRAINT %%I', i.indrelid::regclass, con.conname) END,
       CASE WHEN con.oid IS NULL THEN pg_get_indexdef(i.indexrelid)
            ELSE format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', i.indrelid::regclass, con.conname,
                        pg_get_constraintdef(con.oid)) END
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
WHERE i.indrelid = %s::regclass AND am.amname = 'btree' AND NOT i.indisprimary
  AND (con.oid IS NULL OR con.contype = 'u')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
ORDER BY ic.relname
"""
# Foreign keys of the rows written with per-row FK triggers off: (table, column, referenced table, id column).
FOREIGN_KEYS = (
    (_EMPLOYER, "office_id", _OFFICE),
    (_PERSON, "residence_office_id", _OFFICE),
    (_ENROLLMENT, "person_id", _PERSON),
    (_ENROLLMENT, "employer_id", _EMPLOYER),
    (_ENROLLMENT, "office_id", _OFFICE),
)
# The no-overlap triggers of the enrollment table (migration 0010): switched off with the FK triggers, their
# rule is then checked for the new rows in one sorted pass (_check_no_overlap).
OVERLAP_TRIGGERS = ("enrollment_no_overlap_insert", "enrollment_no_overlap_update")
# Consecutive enrollments of one person and type, sorted by start date, overlap exactly when any two do.
OVERLAP_CHECK_SQL = f"""
SELECT count(*) FROM (
    SELECT e.end_date,
           lead(e.start_date) OVER (PARTITION BY e.person_id, e.insurance_type ORDER BY e.start_date, e.id) AS next
    FROM {_ENROLLMENT} e
    WHERE e.person_id IN (SELECT DISTINCT n.person_id FROM {_ENROLLMENT} n WHERE n.id > %s)
) pairs
WHERE next IS NOT NULL AND (end_date IS NULL OR end_date >= next)
"""


class Command(BaseCommand):
    help = (
        "Generate synthetic but realistic data for the three districts of Taizhou: community offices "
        "(idempotent), employers with valid 统一社会信用代码, persons with valid 公民身份号码 and their "
        "enrollments (employees with five insurances, residents, flexible workers). Re-running adds more "
        "data. Everything is written set-based in one transaction: COPY on PostgreSQL, bulk_create on "
        "SQLite. No history (simple_history) rows are written for seeded data. On PostgreSQL the employer, "
        "person and enrollment tables are locked against other writers while the command runs, and, when the "
        "database user may (superuser) and the tables carry no user triggers but the enrollment no-overlap "
        "ones, the foreign-key and no-overlap triggers are switched off for the transaction "
        "(session_replication_role = replica) and the foreign keys and overlaps of the new rows are checked "
        "set-based before commit instead. A load of at least 100,000 "
        "persons into a person table holding no more than that (a first big seed) also drops the B-tree "
        "indexes of the person and enrollment tables (not their primary keys) and builds them again at the "
        "end, which checks the unique ones; the person and enrollment tables cannot be read meanwhile."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--persons", type=int, default=1000)
        parser.add_argument("--employers", type=int, default=50)
        parser.add_argument(
            "--seed",
            type=int,
            default=None,
            help="random seed (combined with the highest existing ids, so a re-run adds new rows)",
        )
        parser.add_argument("--communities-per-township", type=int, default=3)
        parser.add_argument("--employee-share", type=float, default=0.75, help="share of persons who are employees")
        parser.add_argument("--flexible-share", type=float, default=0.03, help="share of flexible workers")
        parser.add_argument("--chunk-size", type=int, default=100_000, help="persons per COPY / bulk_create round")
        parser.add_argument(
            "--no-enrollments", action="store_true", help="persons only, without any enrollment (for measurements)"
        )
        parser.add_argument(
            "--fk-triggers",
            action="store_true",
            help="PostgreSQL: keep the per-row foreign-key triggers (slower) instead of one set-based check",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        persons, employers = opts["persons"], opts["employers"]
        if persons < 0 or employers < 0 or opts["chunk_size"] < 1:
            raise CommandError("--persons and --employers must not be negative, --chunk-size must be positive.")
        if not 0 <= opts["employee_share"] <= 1 or not 0 <= opts["flexible_share"] <= 1:
            raise CommandError("--employee-share and --flexible-share must lie between 0 and 1.")
        self.pg = connection.vendor == "postgresql"
        self.verbosity = opts.get("verbosity", 1)
        self.started = time.perf_counter()
        with transaction.atomic():
            created = self._ensure_communities(opts["communities_per_township"])
            self._say(f"community offices created: {created}")
            places = self._places()
            if not places:
                raise CommandError("No township offices of 331002/331003/331004: run migrate first.")
            skip_fk = False
            if self.pg:
                with connection.cursor() as cursor:
                    cursor.execute(f"LOCK TABLE {_OFFICE} IN SHARE MODE")
                    cursor.execute(f"LOCK TABLE {', '.join(SEEDED_TABLES)} IN SHARE ROW EXCLUSIVE MODE")
                    # Nothing else waits for this transaction's commit record; sorts for index builds fit in memory.
                    cursor.execute("SET LOCAL synchronous_commit = off")
                    cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
                skip_fk = not opts["fk_triggers"] and self._fk_triggers_off()
            marks = {t: _scalar(f"SELECT coalesce(max(id), 0) FROM {t}") for t in SEEDED_TABLES}
            bulk = self.pg and persons >= BULK_MIN_PERSONS and persons >= Person.objects.count()
            seed = opts["seed"] if opts["seed"] is not None else random.SystemRandom().getrandbits(64)
            gen = Generator(
                seed=f"{seed}:{marks[_PERSON]}:{marks[_EMPLOYER]}",
                places=places,
                today=datetime.date.today(),
                null=PG_NULL if self.pg else None,
            )
            self._employers(gen, employers, Employer.objects.count())
            self._say(f"employers: {employers}")
            rebuild = self._drop_btree_indexes((_PERSON, _ENROLLMENT)) if bulk else []
            enrollments = self._persons(gen, persons, opts)
            self._say(f"persons: {persons}, enrollments: {enrollments}")
            if rebuild:
                with connection.cursor() as cursor:
                    for statement in rebuild:
                        cursor.execute(statement)
                self._say(f"indexes built: {len(rebuild)}")
            if skip_fk:
                self._check_foreign_keys(marks)
                self._check_no_overlap(marks)
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL session_replication_role = origin")
                self._say("foreign keys and enrollment overlaps of the new rows checked")
            if self.pg:
                with connection.cursor() as cursor:
                    cursor.execute(f"ANALYZE {_OFFICE}, {', '.join(SEEDED_TABLES)}")
                self._say("analyzed")
        self.stdout.write(
            self.style.SUCCESS(
                f"seed_demo: {employers} employers, {persons} persons, {enrollments} enrollments "
                f"in {time.perf_counter() - self.started:.1f} s"
            )
        )

    def _say(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(f"[{time.perf_counter() - self.started:7.1f} s] {message}")

    # PostgreSQL bulk load ------------------------------------------------------------------------

    def _drop_btree_indexes(self, tables: tuple[str, ...]) -> list[str]:
        """Drop the droppable B-tree indexes of ``tables`` (DROPPABLE_INDEXES_SQL) for a bulk load.

        Returns the statements that build them again, which the caller runs after the load: building an
        index from a million rows at once costs a fraction of a million random index inserts. The primary
        keys stay (foreign keys point at them, ids are appended in order).
        All within the command's transaction: on any error the indexes are back as they were.
        """
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
            statements = []
            for table in tables:
                cursor.execute(DROPPABLE_INDEXES_SQL, [table])
                statements += cursor.fetchall()
            for drop, _create in statements:
                cursor.execute(drop)
        self._say(f"indexes dropped for the load: {len(statements)}")
        return [create for _drop, create in statements]

    # PostgreSQL foreign keys -------------------------------------------------------------------

    def _fk_triggers_off(self) -> bool:
        """Switch the per-row FK triggers off for this transaction, when allowed and nothing else would be lost."""
        user_triggers = _scalar(
            "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = ANY(%s::regclass[]) "
            "AND NOT tgname = ANY(%s)",
            [list(SEEDED_TABLES), list(OVERLAP_TRIGGERS)],
        )
        if user_triggers or not _scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            return False
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
        return True

    def _check_no_overlap(self, marks: dict[str, int]) -> None:
        overlapping = _scalar(OVERLAP_CHECK_SQL, [marks[_ENROLLMENT]])
        if overlapping:
            raise CommandError(
                f"{overlapping} new enrollments overlap another of the same person and type; nothing saved."
            )

    def _check_foreign_keys(self, marks: dict[str, int]) -> None:
        for table, column, target in FOREIGN_KEYS:
            missing = _scalar(
                f"SELECT count(*) FROM {table} s WHERE s.id > %s AND s.{column} IS NOT NULL "
                f"AND NOT EXISTS (SELECT 1 FROM {target} t WHERE t.id = s.{column})",
                [marks[table]],
            )
            if missing:
                raise CommandError(f"{missing} new rows of {table} reference a missing {target} row; nothing saved.")

    # offices ------------------------------------------------------------------------------------

    def _ensure_communities(self, per_township: int) -> int:
        townships = list(
            Office.objects.filter(level=OfficeLevel.TOWNSHIP, parent__code__in=DISTRICT_CODES).order_by("code")
        )
        existing = set(Office.objects.filter(level=OfficeLevel.COMMUNITY).values_list("code", flat=True))
        new = []
        for township in townships:
            rng = random.Random(township.code)  # the same names on every run
            street = (township.short_name or township.name).endswith("街道")
            communities = rng.sample(COMMUNITY_NAMES, len(COMMUNITY_NAMES))
            villages = rng.sample(VILLAGE_NAMES, len(VILLAGE_NAMES))
            for j in range(min(per_township, len(COMMUNITY_NAMES), len(VILLAGE_NAMES))):
                if street or j == 0:  # a street's communities; a town's seat is a community, the rest villages
                    short, number = communities[j] + "社区", 1 + j
                else:
                    short, number = villages[j - 1] + "村", 200 + j
                code = f"{township.code}{number:03d}"
                if code in existing:
                    continue
                new.append(
                    Office(
                        code=code,
                        name=f"{township.short_name or township.name}{short}服务站",
                        short_name=short,
                        level=OfficeLevel.COMMUNITY,
                        parent=township,
                        path=f"{township.path}{code}/",
                        code_is_demo=True,
                    )
                )
        Office.objects.bulk_create(new)
        return len(new)

    def _places(self) -> list[Place]:
        offices = (
            Office.objects.filter(level__in=(OfficeLevel.TOWNSHIP, OfficeLevel.COMMUNITY), is_active=True)
            .select_related("parent")
            .order_by("path")
        )
        places = []
        for office in offices:
            district = office.district_code
            if district not in DISTRICT_CODES:
                continue
            township = office if office.level == OfficeLevel.TOWNSHIP else office.parent
            township_name = township.short_name or township.name
            address = f"浙江省台州市{DISTRICT_SHORT[district]}区{township_name}"
            village = ""
            if office.level == OfficeLevel.COMMUNITY:
                short = office.short_name or office.name
                village = short if short.endswith("村") else ""
                address += short
            places.append(
                Place(
                    id=office.pk,
                    district=district,
                    township=township_name,
                    urban=township_name.endswith("街道"),
                    address=address,
                    village=village,
                    community=office.level == OfficeLevel.COMMUNITY,
                )
            )
        return places

    # employers ----------------------------------------------------------------------------------

    def _employers(self, gen: Generator, count: int, existing: int) -> None:
        if count == 0:
            return
        taken = set(Employer.objects.values_list("credit_code", flat=True))
        first = _reserve_ids(_EMPLOYER, count)
        rows = gen.employers(first_id=first, count=count, counter=existing, taken=taken)
        if self.pg:
            _copy(_EMPLOYER, EMPLOYER_COLUMNS, _tsv(rows))
        else:
            Employer.objects.bulk_create(
                (Employer(**dict(zip(EMPLOYER_COLUMNS, row, strict=True))) for row in rows), batch_size=2000
            )

    # persons and enrollments --------------------------------------------------------------------

    def _persons(self, gen: Generator, count: int, opts: dict[str, Any]) -> int:
        if count == 0:
            return 0
        rng = gen.rng
        employers = list(
            Employer.objects.filter(status=EmployerStatus.ACTIVE, office__path__regex=r"^/331000/33100[234]/")
            .order_by("id")
            .values_list("id", "office_id", "employer_type")
        )
        # Employer sizes: skewed, individual businesses small.
        type_weight = {EmployerType.INDIVIDUAL: 0.1, EmployerType.PUBLIC: 1.5}
        employer_cw = list(accumulate(type_weight.get(t, 1.0) * rng.lognormvariate(0, 1.2) for _i, _o, t in employers))
        employer_keys = [(str(i), str(o)) for i, o, _t in employers]
        if self.pg:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT id_number FROM {_PERSON}")
                taken = {row[0] for row in cursor.fetchall()}
        else:
            taken = set(Person.objects.values_list("id_number", flat=True))
        first = _reserve_ids(_PERSON, count)
        chunk = opts["chunk_size"]
        kwargs = {
            "taken": taken,
            "employers": employer_keys,
            "employer_cw": employer_cw,
            "employee_share": opts["employee_share"],
            "flexible_share": opts["flexible_share"],
        }
        self.enroll = not opts["no_enrollments"]

        def chunks() -> Iterator[tuple[list[tuple], list[tuple]]]:
            for offset in range(0, count, chunk):
                yield gen.persons(first_id=first + offset, count=min(chunk, count - offset), **kwargs)

        if self.pg:
            return self._persons_pg(chunks(), gen.now)
        total = 0
        for persons, plans in chunks():
            Person.objects.bulk_create(
                (Person(**dict(zip(PERSON_COLUMNS, row, strict=True))) for row in persons), batch_size=2000
            )
            if self.enroll:
                total += self._enrollments_orm(plans)
        return total

    def _enrollments_orm(self, plans: list[tuple]) -> int:
        objs = [
            Enrollment(
                person_id=int(pid),
                insurance_type=itype,
                employer_id=None if employer_id is None else int(employer_id),
                is_flexible=int(kind) == FLEXIBLE,
                start_date=datetime.date.fromisoformat(start),
                office_id=int(office_id),
            )
            for pid, kind, employer_id, office_id, start in plans
            for itype in KIND_TYPES[int(kind)]
        ]
        Enrollment.objects.bulk_create(objs, batch_size=2000)
        return len(objs)

    def _persons_pg(self, chunks: Iterator[tuple[list[tuple], list[tuple]]], now: str) -> int:
        """Generate the next chunk in a thread while PostgreSQL takes in the current one."""
        ready: queue.Queue = queue.Queue(maxsize=1)
        stop = threading.Event()

        def put(item: Any) -> bool:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.5)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                for persons, plans in chunks:
                    enrollment_data = _enrollment_tsv(plans, now) if self.enroll else ""
                    if not put((_tsv(persons), enrollment_data)):
                        return
                put(None)
            except BaseException as exc:  # handed to the consumer, which raises it
                put(exc)

        total = done = 0
        producer = threading.Thread(target=produce, name="seed_demo-generate", daemon=True)
        producer.start()
        try:
            while True:
                item = ready.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                person_data, enrollment_data = item
                _copy(_PERSON, PERSON_COLUMNS, person_data)
                if enrollment_data:
                    _copy(_ENROLLMENT, ENROLLMENT_COLUMNS, enrollment_data)
                done += person_data.count("\n")
                total += enrollment_data.count("\n")
                if self.verbosity >= 2:
                    self._say(f"  {done} persons, {total} enrollments")
        finally:
            stop.set()
            producer.join()
        return total
