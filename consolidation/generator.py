"""Messy legacy exports for demos and benchmarks: batch folders (batch.json + four files) as the three districts'
old systems would deliver them — GBK or UTF-8, 15-digit ID numbers, the same persons in more than one
district, typing errors in numbers and names, missing fields and some plainly bad lines.

``district_folders`` writes one folder per district under ``root``; the files stream to disk line by line, so a
million persons and twelve million history lines need no more memory than a few thousand.
"""

from __future__ import annotations

import csv
import datetime
import functools
import json
import random
import re
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from stdnum.cn import ric, uscc

from consolidation.layout import COLUMNS
from registry.management.commands.seed_demo import GIVEN, GIVEN_FIRST, SURNAMES, _org_check

DISTRICT_NAMES = {"331002": "椒江", "331003": "黄岩", "331004": "路桥"}
# Characters typed for one another in names (homophones, as a pinyin input method offers them).
HOMOPHONES = {
    "小": "晓",
    "晓": "小",
    "伟": "玮",
    "明": "鸣",
    "华": "化",
    "军": "君",
    "静": "婧",
    "丽": "莉",
    "芳": "方",
    "强": "墙",
    "红": "宏",
    "英": "瑛",
    "建": "健",
    "国": "果",
    "海": "亥",
    "平": "萍",
    "林": "琳",
    "杰": "洁",
}
INSURANCE_CODES = {
    "emp_pension": "110",
    "emp_medical": "310",
    "unemployment": "210",
    "work_injury": "410",
    "maternity": "510",
}
# Contribution rates of the generated history (demo values, not the policy parameters).
RATES = {
    "emp_pension": ("0.14", "0.08"),
    "emp_medical": ("0.095", "0.02"),
    "unemployment": ("0.005", "0.005"),
    "work_injury": ("0.004", "0"),
    "maternity": ("0.008", "0"),
}


@dataclass
class Human:
    """A person as the truth knows them; each district's export writes them its own way."""

    id18: str
    name: str
    sex: str
    birth: datetime.date
    phone: str
    address: str
    employer: int  # index into the district's employers
    base: int


@dataclass
class Mess:
    """Shares of lines written wrongly (each a fraction of the lines it applies to)."""

    id15: float = 0.08  # persons born before 2000 written with their old 15-digit number
    typo_id: float = 0.0  # shared persons whose number carries a typing error (one digit, or two swapped)
    typo_name: float = 0.0  # shared persons whose name has a homophone typed for one character
    missing: float = 0.1  # phone, address, household type left empty
    bad_person: float = 0.002  # a person line without a name
    bad_history: float = 0.001  # a history line whose amounts do not add up, or with an impossible month
    unknown_history: float = 0.0005  # a history line of a person in no file


@dataclass
class DistrictSpec:
    code: str
    persons: int
    employers: int
    encoding: str = "utf-8"  # or "gbk"
    shared: list[Human] = field(default_factory=list)  # persons of other districts also in this one's files
    mess: Mess = field(default_factory=Mess)
    history_per_person: int = 12  # lines per person: one per month, each with the five employee insurances
    first_period: int = 202401


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_check(body: str) -> str:
    """The check character of a 17-digit body (GB 11643-1999; stdnum's ric.calc_check_digit, without its
    validation: the generator's bodies are digits)."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def _ymd(d: datetime.date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


class HumanFactory:
    def __init__(self, seed: object) -> None:
        self.rng = random.Random(seed)
        self.taken: set[str] = set()
        self.surnames = list(SURNAMES)
        self.surname_cw = list(accumulate(SURNAMES.values()))

    def make(self, district: str, employers: int) -> Human:
        rng = self.rng
        birth = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(0, 365 * 52))
        male = rng.random() < 0.52
        generation = "old" if birth.year < 1965 else "mid" if birth.year < 1990 else "young"
        pool = GIVEN[(generation, "M" if male else "F")]
        given = rng.choice(pool)
        if rng.random() < 0.7:
            given = rng.choice(GIVEN_FIRST[(generation, "M" if male else "F")]) + given
        surname = rng.choices(self.surnames, cum_weights=self.surname_cw)[0]
        while True:
            body = f"{district}{_ymd(birth)}{rng.randrange(0, 499) * 2 + (1 if male else 2):03d}"
            number = body + _id_check(body)
            if number not in self.taken:
                self.taken.add(number)
                break
        return Human(
            id18=number,
            name=surname + given,
            sex="M" if male else "F",
            birth=birth,
            phone=f"13{rng.randrange(0, 10**9):09d}",
            address=f"浙江省台州市{DISTRICT_NAMES[district]}区{rng.choice('东西南北中')}街{rng.randrange(1, 800)}号",
            employer=rng.randrange(0, max(employers, 1)),
            base=rng.randrange(30, 200) * 100,
        )


def id15(number: str) -> str:
    """The old 15-digit form of an 18-digit number of someone born in the 1900s."""
    return number[:6] + number[8:17]


def id_typo(number: str, rng: random.Random) -> str:
    """A typing error in the body (one digit changed, or two neighbours swapped), the check character kept:
    what a clerk's slip makes of a number (the check character then no longer fits)."""
    digits = list(number)
    while True:
        i = rng.randrange(0, 17)
        if i in range(6, 14):
            continue  # keep the birth date readable, as most slips do
        if rng.random() < 0.5 and i + 1 < 17 and digits[i] != digits[i + 1] and i + 1 not in range(6, 14):
            digits[i], digits[i + 1] = digits[i + 1], digits[i]
        else:
            digits[i] = str((int(digits[i]) + rng.randrange(1, 10)) % 10)
        typo = "".join(digits)
        if typo != number and ric.calc_check_digit(typo[:17] + "0") != typo[17]:
            return typo
        digits = list(number)


def name_typo(name: str, rng: random.Random) -> str:
    positions = [i for i, ch in enumerate(name) if ch in HOMOPHONES and i > 0]
    if not positions:
        return name
    i = rng.choice(positions)
    return name[:i] + HOMOPHONES[name[i]] + name[i + 1 :]


def _credit_code(district: str, n: int) -> tuple[str, str]:
    body = f"{(n * 61803399 + 27182818) % 10**8:08d}"
    org = body + _org_check(body)
    code17 = "91" + district + org
    return code17 + uscc.calc_check_digit(code17), org


class _Writer:
    def __init__(self, path: Path, kind: str, encoding: str) -> None:
        self.handle = path.open("w", encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="")
        self.writer = csv.writer(self.handle, lineterminator="\r\n")
        self.writer.writerow([c.header for c in COLUMNS[kind]])
        self.rows = 0

    def row(self, values: list[object]) -> None:
        self.writer.writerow(values)
        self.rows += 1

    def text(self, lines: str, count: int) -> None:
        """Lines already written as CSV (cells that need no quoting)."""
        self.handle.write(lines)
        self.rows += count

    def close(self) -> None:
        self.handle.close()


def district_folder(root: Path, spec: DistrictSpec, factory: HumanFactory, *, label: str = "") -> list[Human]:
    """Write one district's batch folder; returns the humans it holds (its own, then the shared ones)."""
    rng, mess = factory.rng, spec.mess
    folder = root / f"{spec.code}-{label or 'batch'}"
    folder.mkdir(parents=True, exist_ok=True)
    writers = {kind: _Writer(folder / f"{kind}.csv", kind, spec.encoding) for kind in COLUMNS}
    refs = _write_employers(writers["employers"], spec)
    own = [factory.make(spec.code, spec.employers) for _ in range(spec.persons)]
    for index, human in enumerate(own + spec.shared):
        written, name = _written_identity(human, index >= len(own), rng, mess)
        bad_line = rng.random() < mess.bad_person
        missing = rng.random() < mess.missing
        writers["persons"].row(
            [
                written,
                "" if bad_line else name,
                "男" if human.sex == "M" else "女",
                human.birth.isoformat(),
                "" if missing else rng.choice(("城镇", "农村")),
                "" if missing else human.phone,
                "" if missing else human.address,
                "",
                "",
                "2023-12-31",
            ]
        )
        employer_code = refs[human.employer % len(refs)] if refs else ""
        writers["enrollments"].row([written, "110", employer_code, "2015-01-01", "", "否"])
        _write_history(writers["history"], spec, factory, human, written, employer_code)
    for writer in writers.values():
        writer.close()
    manifest = {
        "district": spec.code,
        "source_system": f"{DISTRICT_NAMES[spec.code]}区社保系统（旧）",
        "label": label or folder.name,
        "files": {kind: f"{kind}.csv" for kind in COLUMNS},
    }
    (folder / "batch.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return own + spec.shared


def _write_employers(writer: _Writer, spec: DistrictSpec) -> list[str]:
    """The district's employers; returns how its other files point at each (credit code or organisation code)."""
    employers = [_credit_code(spec.code, int(spec.code) % 1000 * 100_000 + i + 1) for i in range(spec.employers)]
    refs = []
    for i, (code, org) in enumerate(employers):
        # Some old systems kept only the 9-character organisation code (and point at the employer with it).
        only_org = i % 50 == 49
        refs.append(f"{org[:8]}-{org[8]}" if only_org else code)
        writer.row(
            [
                "" if only_org else code,
                f"{org[:8]}-{org[8]}" if only_org else "",
                f"台州{DISTRICT_NAMES[spec.code]}第{i + 1}机械有限公司",
                "企业",
                "通用设备制造业",
                str(1 + i % 8),
                "",
            ]
        )
    return refs


def _written_identity(human: Human, shared: bool, rng, mess) -> tuple[str, str]:
    """The ID number and name as this district's system holds them: an old 15-digit number, and for a person
    the districts share, a typo in either (the random draws in this order, so a seed gives the same files)."""
    written = human.id18
    if human.birth.year < 2000 and rng.random() < mess.id15:
        written = id15(human.id18)
    name = human.name
    if shared and rng.random() < mess.typo_id:
        if len(written) == 15:  # no check character: the typo gives another valid number (a second person)
            i = rng.randrange(12, 15)
            written = written[:i] + str((int(written[i]) + rng.randrange(1, 10)) % 10) + written[i + 1 :]
        else:
            written = id_typo(human.id18, rng)
    if shared and rng.random() < mess.typo_name:
        name = name_typo(name, rng)
    return written, name


@functools.cache
def _periods(first_period: int, count: int) -> tuple[str, ...]:
    out = []
    for m in range(max(1, count)):
        year, month = divmod(first_period // 100 * 12 + first_period % 100 - 1 + m, 12)
        out.append(f"{year}{month + 1:02d}")
    return tuple(out)


_HISTORY_KEYS = [c.key for c in COLUMNS["history"]]
_PLAIN = re.compile(r'^[^,"\r\n]*$')


def _write_history(
    writer: _Writer, spec: DistrictSpec, factory: HumanFactory, human: Human, written: str, employer_code: str
) -> None:
    """The person's monthly contribution history, some lines not adding up or naming nobody known. The amounts
    are the same every month: the middle of the line is formatted once and the lines are written as text (no
    cell needs quoting; the csv module took most of the generation time at twelve million lines)."""
    rng, mess = factory.rng, spec.mess
    base = human.base
    # The five employee insurances of the month, one line (demo rates).
    parts = {
        "emp_pension": ((base * 14) // 100, (base * 8) // 100),
        "emp_medical": ((base * 6) // 100, (base * 2) // 100),
        "unemployment": ((base * 5) // 1000, (base * 5) // 1000),
        "work_injury": ((base * 4) // 1000, None),
        "maternity": ((base * 5) // 1000, None),
    }
    total = sum(e + (i or 0) for e, i in parts.values())
    cells = {}
    for insurance, (employer_part, individual_part) in parts.items():
        cells[f"{insurance}_base"] = f"{base}.00"
        cells[f"{insurance}_employer"] = f"{employer_part}.00"
        cells[f"{insurance}_individual"] = "" if individual_part is None else f"{individual_part}.00"
    middle = ",".join(cells.get(key, "") for key in _HISTORY_KEYS[3:-1])
    if not _PLAIN.match(employer_code):
        raise ValueError(employer_code)
    lines = []
    for period in _periods(spec.first_period, spec.history_per_person):
        line_total = total + 1 if rng.random() < mess.bad_history else total  # the amounts do not add up
        person_ref = written
        if rng.random() < mess.unknown_history:
            person_ref = factory.make(spec.code, 1).id18  # nobody in any file
        lines.append(f"{person_ref},{employer_code},{period},{middle},{line_total}.00\r\n")
    writer.text("".join(lines), len(lines))
