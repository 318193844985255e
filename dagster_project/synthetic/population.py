"""The synthetic population: companies and their groups, persons, contracts with cars, consents.

Everything here is built in Python from a few seeded ``random.Random`` streams (one per concern, so that a change in
one part does not reshuffle the others): identities depend on the seed only, dates on the seed and ``as_of``.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from faker import Faker

from dagster_project.synthetic import identifiers as ids
from dagster_project.synthetic.values import add_months, add_years, time_on

# (make, model, power source, CO2 range g/km, VIN WMI, vehicle class)
VEHICLE_CATALOG = (
    ("Volkswagen", "Golf Variant", "diesel", (108, 125), "WVW", "passenger_car"),
    ("Volkswagen", "ID.4", "electric", (0, 0), "WVG", "passenger_car"),
    ("Volkswagen", "Golf TGI", "gas", (95, 110), "WVW", "passenger_car"),
    ("Toyota", "Corolla Touring Sports", "hybrid", (95, 115), "SB1", "passenger_car"),
    ("Toyota", "RAV4 Plug-in", "plug_in_hybrid", (22, 30), "JTM", "passenger_car"),
    ("Skoda", "Octavia Combi", "petrol", (120, 145), "TMB", "passenger_car"),
    ("Skoda", "Enyaq", "electric", (0, 0), "TMB", "passenger_car"),
    ("Volvo", "EX30", "electric", (0, 0), "YV1", "passenger_car"),
    ("Volvo", "XC60 Recharge", "plug_in_hybrid", (20, 35), "YV1", "passenger_car"),
    ("Volvo", "V60", "diesel", (115, 135), "YV1", "passenger_car"),
    ("Tesla", "Model Y", "electric", (0, 0), "XP7", "passenger_car"),
    ("Kia", "Niro", "hybrid", (95, 110), "KNA", "passenger_car"),
    ("BMW", "330e Touring", "plug_in_hybrid", (30, 45), "WBA", "passenger_car"),
    ("Audi", "A4 Avant", "diesel", (120, 140), "WAU", "passenger_car"),
    ("Seat", "Leon TGI", "gas", (95, 115), "VSS", "passenger_car"),
    ("Peugeot", "208", "petrol", (110, 130), "VF3", "passenger_car"),
    ("Renault", "Megane", "petrol", (125, 145), "VF1", "passenger_car"),
    ("Ford", "Transit Custom", "diesel", (170, 210), "WF0", "van"),
    ("Mercedes-Benz", "Vito", "diesel", (180, 210), "WDF", "van"),
    ("Toyota", "Proace Electric", "electric", (0, 0), "VXK", "van"),
    ("Mercedes-Benz", "Actros", "diesel", (650, 900), "WDB", "truck"),
)
CITIES = (
    "Helsinki", "Espoo", "Vantaa", "Tampere", "Turku", "Oulu", "Jyväskylä", "Lahti", "Kuopio", "Pori", "Porvoo",
    "Joensuu", "Lappeenranta", "Hämeenlinna", "Vaasa", "Seinäjoki", "Rovaniemi", "Kotka",
)
POSITIONS = ("Fleet manager", "Talousjohtaja", "Toimitusjohtaja", "Myyntipäällikkö", "Huoltoinsinööri",
             "Projektipäällikkö", "Asiantuntija", "Kirjanpitäjä", "Asentaja", "Aluepäällikkö")
DECISION_POSITIONS = ("Fleet manager", "Talousjohtaja", "Toimitusjohtaja", "Hankintapäällikkö")
FINANCE_COMPANIES = ("Nordea Rahoitus", "OP Rahoitus", "Danske Finance", "Santander Consumer Finance",
                     "Handelsbanken Rahoitus")
INSURERS = ("If", "LähiTapiola", "Pohjola Vakuutus", "Fennia", "Turva")
E_INVOICE_OPERATORS = ("OKOYFIHH", "NDEAFIHH", "003723327487", "003721291126", "E204503")
PRIVATE_EMAIL_DOMAINS = ("example.fi", "example.com", "example.net", "posti.example")


def _slug(text: str) -> str:
    table = str.maketrans({"ä": "a", "ö": "o", "å": "a", "é": "e", "ü": "u", " ": "", "'": ""})
    return "".join(ch for ch in text.lower().translate(table) if ch.isascii() and (ch.isalnum() or ch in ".-"))


@dataclass
class Company:
    business_id: str
    name: str
    parent: str | None
    street: str
    postal: str
    city: str
    billing_method: str
    e_invoice_address: str
    e_invoice_operator: str
    payment_terms_days: int
    rel_start: date
    updated_at: datetime
    cost_centers: tuple[str, ...]


@dataclass
class Person:
    person_id: str
    first_name: str
    last_name: str
    birth: date
    ssn: str | None
    email: str | None
    phone: str | None  # national digits
    phone_style: str
    street: str | None
    postal: str | None
    city: str | None
    customer_type: str = "prospect"
    business_id: str | None = None
    position: str | None = None
    role: str | None = None
    rel_start: date | None = None
    rel_end: date | None = None
    updated_at: datetime | None = None


@dataclass
class Vehicle:
    plate: str
    vin: str
    make: str
    model: str
    power: str
    co2: int
    vehicle_class: str
    first_registration: date
    odometer: int = 0


@dataclass
class Contract:
    contract_id: str
    customer_business_id: str | None
    customer_person_id: str | None
    driver_person_id: str
    contract_type: str
    status: str
    delivery_date: date
    start_date: date | None
    end_date: date | None
    planned_end: date | None
    duration_months: int
    vehicle: Vehicle | None = None
    residual_value: int = 0
    lease_rent: int = 0
    service_budget: int = 0
    account_fee: int = 0
    total_monthly: int = 0
    included_km: int = 0
    start_km: int = 0
    latest_odometer_km: int = 0
    cost_center: str | None = None
    finance_company: str = ""
    insurance_company: str = ""
    insurance_deductible: int = 0
    replacement_car_right: bool = False
    replacement_car_class: str | None = None
    notes: str = ""
    updated_at: datetime | None = None


@dataclass
class ConsentEvent:
    person_id: str
    purpose: str
    channel: str
    action: str
    recorded_at: datetime
    source: str


@dataclass
class Model:
    as_of: date
    companies: list[Company]
    persons: list[Person]
    contracts: list[Contract]
    consents: list[ConsentEvent]

    def person(self, person_id: str) -> Person:
        return self.persons[int(person_id[1:]) - 1]


def make_companies(fake: Faker, rng: random.Random, n: int) -> list[Company]:
    companies: list[Company] = []
    seen: set[str] = set()
    for _ in range(n):
        business_id = ids.make_ytunnus(rng)
        while business_id in seen:
            business_id = ids.make_ytunnus(rng)
        seen.add(business_id)
        billing = rng.choice(("e_invoice", "e_invoice", "email", "paper"))
        companies.append(Company(
            business_id=business_id, name=fake.company(), parent=None, street=fake.street_address(),
            postal=fake.postcode(), city=rng.choice(CITIES), billing_method=billing,
            e_invoice_address=f"0037{business_id.replace('-', '')}" if billing == "e_invoice" else "",
            e_invoice_operator=rng.choice(E_INVOICE_OPERATORS) if billing == "e_invoice" else "",
            payment_terms_days=rng.choice((7, 14, 14, 21, 30, 30, 45, 60)), rel_start=date(2000, 1, 1),
            updated_at=datetime(2000, 1, 1), cost_centers=tuple(f"KP-{rng.randint(1000, 9999)}"
                                                               for _ in range(rng.randint(1, 4))),
        ))
    # Group structure: a few top parents, some mid-level subsidiaries (2-level chains), then leaf subsidiaries.
    n_top, n_mid = max(1, n // 25), max(1, n // 16)
    tops, mids = companies[:n_top], companies[n_top:n_top + n_mid]
    for c in mids:
        c.parent = rng.choice(tops).business_id
    for c in companies[n_top + n_mid:]:
        if rng.random() < 0.25:
            c.parent = rng.choice(tops + mids).business_id
    return companies


def make_person_identities(fake: Faker, rng: random.Random, n: int) -> list[Person]:
    persons: list[Person] = []
    phones: set[str] = set()
    for i in range(n):
        male = rng.random() < 0.5
        first = fake.first_name_male() if male else fake.first_name_female()
        last = fake.last_name()
        birth = date(1940, 1, 1) + timedelta(days=rng.randint(0, (date(2005, 12, 31) - date(1940, 1, 1)).days))
        ssn = ids.make_hetu(rng, birth, male=male, modern_sign=rng.random() < 0.05)
        phone = ids.make_mobile(rng)
        while phone in phones:
            phone = ids.make_mobile(rng)
        phones.add(phone)
        email = f"{_slug(first)}.{_slug(last)}{rng.choice(('', '', str(rng.randint(1, 99))))}" \
                f"@{rng.choice(PRIVATE_EMAIL_DOMAINS)}"
        persons.append(Person(
            person_id=f"P{i + 1:06d}", first_name=first, last_name=last, birth=birth, ssn=ssn, email=email,
            phone=phone, phone_style=rng.choice(ids.PHONE_STYLES), street=fake.street_address(),
            postal=fake.postcode(), city=fake.city(),
        ))
    return persons


def _assign_roles(rng: random.Random, persons: list[Person], companies: list[Company]) -> None:
    for i, p in enumerate(persons):
        r = rng.random()
        if i < len(companies) or (0.42 <= r < 0.75):
            company = companies[i] if i < len(companies) else rng.choice(companies)
            p.customer_type, p.business_id = "business_contact", company.business_id
            p.role = "decision_maker" if i < len(companies) or rng.random() < 0.15 else "car_user"
            p.position = rng.choice(DECISION_POSITIONS if p.role == "decision_maker" else POSITIONS)
            p.email = f"{_slug(p.first_name)}.{_slug(p.last_name)}@{_slug(company.name.split()[0])}.example"
            p.ssn = p.ssn if rng.random() < 0.05 else None
            if rng.random() < 0.85:
                p.street = p.postal = p.city = None
        elif r < 0.42:
            p.customer_type = "private"
            p.role = "car_user" if rng.random() < 0.88 else None
            p.ssn = p.ssn if rng.random() < 0.95 else None
        else:
            p.customer_type, p.ssn = "prospect", None
            p.business_id = rng.choice(companies).business_id if rng.random() < 0.3 else None
            if rng.random() < 0.4:
                p.street = p.postal = p.city = None
        if rng.random() < 0.08:
            p.email = None
        if rng.random() < 0.06:
            p.phone = None


def _assign_relationships(rng: random.Random, persons: list[Person], as_of: date) -> None:
    """Relationship dates relative to as_of: current, ended recently, ended > 10 years ago, ~10 years ± days."""
    n = len(persons)
    ten_years = add_years(as_of, -10)
    old_private = [p for p in persons if p.customer_type == "private" and p.role and p.birth.year < 1980]
    special = rng.sample(old_private, min(len(old_private), max(1, int(n * 0.008)) + 2 * max(1, n // 1000)))
    n_long = max(1, int(n * 0.008))
    ends: dict[str, date] = {}
    for k, p in enumerate(special):
        if k < n_long:
            ends[p.person_id] = as_of - timedelta(days=rng.randint(10 * 366 + 40, 20 * 365))
        elif (k - n_long) % 2 == 0:
            ends[p.person_id] = ten_years - timedelta(days=rng.randint(2, 5))  # just past retention: due
        else:
            ends[p.person_id] = ten_years + timedelta(days=rng.randint(2, 5))  # just inside retention
    for p in persons:
        adult = add_years(p.birth, 18)
        if p.customer_type == "prospect":
            if rng.random() < 0.5:
                p.rel_start = max(adult, as_of - timedelta(days=rng.randint(120, 700)))
            continue
        end = ends.get(p.person_id)
        if end is None and rng.random() < 0.07 and p.birth.year < 1995:
            end = as_of - timedelta(days=rng.randint(200, 9 * 365))
        length = rng.randint(500, 4500)
        start = (end or as_of) - timedelta(days=length)
        start = max(start, adult, date(1995, 1, 1))
        if end is not None and start >= end - timedelta(days=200):
            start = end - timedelta(days=400)
        p.rel_start, p.rel_end = start, end


def _contract_periods(rng: random.Random, first: date, rel_end: date | None, as_of: date) -> list[tuple]:
    """(status, start, end, planned_end, months) tuples for one person's consecutive contracts."""
    out: list[tuple] = []
    t = first
    while len(out) < 6:
        months = rng.choice((24, 36, 36, 48))
        planned = add_months(t, months) - timedelta(days=1)
        if t > as_of:
            out.append(("ordered", t, None, planned, months))
            break
        if rel_end is not None and planned >= rel_end - timedelta(days=10):
            end = rel_end - timedelta(days=rng.randint(0, 20))
            if end > t + timedelta(days=60):
                out.append(("ended" if end >= planned - timedelta(days=30) else "terminated", t, end, planned, months))
            break
        if planned >= as_of:
            out.append(("active", t, planned, planned, months))
            break
        end, status = planned, "ended"
        if rng.random() < 0.07:
            end, status = t + timedelta(days=rng.randint(90, max(91, (planned - t).days - 30))), "terminated"
        out.append((status, t, end, planned, months))
        t = end + timedelta(days=rng.randint(1, 30))
    return out


def new_vehicle(rng: random.Random, plates: set[str], delivery: date) -> Vehicle:
    make, model, power, (co2_lo, co2_hi), wmi, vclass = rng.choice(VEHICLE_CATALOG)
    plate = ids.make_plate(rng)
    while plate in plates:
        plate = ids.make_plate(rng)
    plates.add(plate)
    return Vehicle(plate=plate, vin=ids.make_vin(rng, wmi), make=make, model=model, power=power,
                   co2=rng.randint(co2_lo, co2_hi), vehicle_class=vclass,
                   first_registration=delivery - timedelta(days=rng.randint(1, 20)))


def _make_contracts(rng: random.Random, persons: list[Person], companies: dict[str, Company],
                    as_of: date) -> list[Contract]:
    contracts: list[Contract] = []
    for p in persons:
        has_car = p.role == "car_user" or (p.role == "decision_maker" and rng.random() < 0.3)
        if not has_car or p.rel_start is None:
            continue
        first = max(p.rel_start + timedelta(days=rng.randint(0, 60)),
                    (p.rel_end or as_of) - timedelta(days=rng.randint(400, 8 * 365)))
        company = companies.get(p.business_id or "") if p.customer_type == "business_contact" else None
        for status, start, end, planned, months in _contract_periods(rng, first, p.rel_end, as_of):
            contracts.append(Contract(
                contract_id=f"C{len(contracts) + 1:06d}",
                customer_business_id=company.business_id if company else None,
                customer_person_id=None if company else p.person_id, driver_person_id=p.person_id,
                contract_type=rng.choice(("Avoin huoltoleasing", "Avoin huoltoleasing", "Rahoitusleasing",
                                          "Suljettu huoltoleasing")) if company else "Yksityisleasing",
                status=status, delivery_date=start - timedelta(days=rng.randint(0, 3)),
                start_date=None if status == "ordered" else start, end_date=None if status == "ordered" else end,
                planned_end=planned, duration_months=months,
                cost_center=rng.choice(company.cost_centers) if company else None,
            ))
    _assign_vehicles(rng, contracts, as_of)
    for c in contracts:
        fill_contract_terms(rng, c, as_of)
    return contracts


def _assign_vehicles(rng: random.Random, contracts: list[Contract], as_of: date) -> None:
    """New car per contract, except that a car freed by an ended contract is often re-leased (its plate moves)."""
    plates: set[str] = set()
    free: list[tuple[date, int, Vehicle]] = []  # sorted by the date the car is free again
    for order, c in enumerate(sorted(contracts, key=lambda c: (c.delivery_date, c.contract_id))):
        if c.status == "ordered":
            continue
        k = bisect.bisect_left(free, (c.delivery_date, -1))
        reuse = k > 0 and rng.random() < 0.3
        if reuse:
            idx = rng.randrange(max(0, k - 50), k)
            _, _, vehicle = free.pop(idx)
        else:
            vehicle = new_vehicle(rng, plates, c.delivery_date)
        c.vehicle = vehicle
        c.start_km = vehicle.odometer
        km_per_day = rng.randint(25, 90)
        last = min(c.end_date or as_of, as_of)
        vehicle.odometer = c.start_km + km_per_day * max(0, (last - (c.start_date or last)).days)
        c.latest_odometer_km = vehicle.odometer
        if c.status in ("ended", "terminated") and c.end_date is not None:
            bisect.insort(free, (c.end_date + timedelta(days=rng.randint(7, 40)), order, vehicle))


def fill_contract_terms(rng: random.Random, c: Contract, as_of: date) -> None:
    c.lease_rent = rng.randint(25000, 120000)
    c.service_budget = rng.choice((0, 0, rng.randint(3000, 15000)))
    c.account_fee = rng.choice((990, 1250, 0))
    c.total_monthly = c.lease_rent + c.service_budget + c.account_fee
    c.residual_value = rng.randint(5000, 40000) * 100
    c.included_km = rng.choice((60000, 90000, 120000, 150000, 180000))
    c.finance_company = rng.choice(FINANCE_COMPANIES)
    c.insurance_company = rng.choice(INSURERS)
    c.insurance_deductible = rng.choice((15000, 25000, 30000, 50000))
    c.replacement_car_right = rng.random() < 0.4
    c.replacement_car_class = rng.choice(("A", "B", "C")) if c.replacement_car_right else None
    start = c.start_date or c.delivery_date
    latest = min(as_of, (c.end_date or start) + timedelta(days=rng.randint(0, 40)))
    c.updated_at = time_on(rng, max(start, min(latest, as_of)))


def _add_notes(rng: random.Random, model: Model) -> None:
    for c in model.contracts:
        driver = model.person(c.driver_person_id)
        r = rng.random()
        if r < 0.05 and driver.phone:
            c.notes = f"Kuljettaja vaihtuu, soita {driver.first_name}lle " \
                      f"{ids.format_phone(driver.phone, rng.choice(ids.PHONE_STYLES))}"
        elif r < 0.08 and driver.email:
            c.notes = f"Laskukopiot myös osoitteeseen {driver.email}"
        elif r < 0.10 and driver.ssn:
            c.notes = f"Henkilöllisyys tarkistettu ({driver.ssn}), luottopäätös ok"
        elif r < 0.13 and c.vehicle:
            c.notes = f"Sijaisauto {ids.make_plate(rng)} huollon ajaksi, oma auto {c.vehicle.plate} korjaamolla"
        elif r < 0.30:
            c.notes = rng.choice(("Talvirenkaat rengashotellissa", "Asiakas muuttaa ulkomaille",
                                  "Sopimusta jatkettu 12 kk", "Vahinkoilmoitus käsittelyssä; odottaa vakuutusyhtiötä",
                                  "Kilometrit ylittyvät, ehdotettu sopimuksen muutosta", "Lisävarusteena vetokoukku"))
    mismatches = rng.sample(model.contracts, min(len(model.contracts), max(2, len(model.contracts) // 400)))
    for c in mismatches:
        c.total_monthly += rng.choice((-1000, 500, 1990))


def _make_consents(rng: random.Random, persons: list[Person], until: date) -> list[ConsentEvent]:
    events: list[ConsentEvent] = []

    def when(p: Person) -> datetime:
        start = p.rel_start or (until - timedelta(days=400))
        span = max(1, ((p.rel_end or until) - start).days)
        return time_on(rng, min(until, start + timedelta(days=rng.randint(0, span))), 8, 21)

    for p in persons:
        private = p.customer_type == "private" or (p.customer_type == "prospect" and not p.business_id)
        if private:
            for channel, share in (("email", 0.5), ("sms", 0.3)):
                if rng.random() < share:
                    t = when(p)
                    events.append(ConsentEvent(p.person_id, "direct_marketing", channel, "grant", t,
                                               rng.choice(("web_form", "contract", "mobile_app"))))
                    if rng.random() < 0.2:
                        events.append(ConsentEvent(p.person_id, "direct_marketing", channel, "withdraw",
                                                   t + timedelta(days=rng.randint(30, 900)), "customer_service"))
            if rng.random() < 0.04:
                events.append(ConsentEvent(p.person_id, "direct_marketing", rng.choice(("phone", "post", "any")),
                                           "object", when(p), "customer_service"))
        elif rng.random() < 0.06:
            events.append(ConsentEvent(p.person_id, "direct_marketing", rng.choice(("email", "any", "phone")),
                                       "object", when(p), "customer_service"))
        if rng.random() < 0.03:
            events.append(ConsentEvent(p.person_id, "profiling", "any", "object", when(p), "customer_service"))
        if p.role == "car_user" and rng.random() < 0.3:
            t = when(p)
            events.append(ConsentEvent(p.person_id, "location_tracking", "any", "grant", t, "mobile_app"))
            if rng.random() < 0.15:
                events.append(ConsentEvent(p.person_id, "location_tracking", "any", "withdraw",
                                           t + timedelta(days=rng.randint(10, 400)), "mobile_app"))
    cutoff = datetime.combine(until, time(23, 59, 59))
    return sorted((e for e in events if e.recorded_at <= cutoff), key=lambda e: (e.recorded_at, e.person_id))


def build_model(*, persons: int, seed: int, as_of: date) -> Model:
    """Persons, companies, contracts and consent history as of ``as_of`` (identities depend on the seed only)."""
    fake = Faker("fi_FI")
    fake.seed_instance(seed)
    rng_id = random.Random(f"{seed}:identity")
    companies = make_companies(fake, rng_id, max(4, persons // 12))
    people = make_person_identities(fake, rng_id, persons)
    _assign_roles(random.Random(f"{seed}:roles"), people, companies)
    rng_dates = random.Random(f"{seed}:dates")
    _assign_relationships(rng_dates, people, as_of)
    for c in companies:
        c.rel_start = as_of - timedelta(days=rng_dates.randint(400, 9000))
        c.updated_at = time_on(rng_dates, c.rel_start + timedelta(days=rng_dates.randint(0, 300)))
    for p in people:
        base = max(d for d in (p.rel_start, p.rel_end, as_of - timedelta(days=2000)) if d)
        p.updated_at = time_on(rng_dates, min(as_of, base + timedelta(days=rng_dates.randint(0, 60))))
    contracts = _make_contracts(random.Random(f"{seed}:contracts"), people,
                                {c.business_id: c for c in companies}, as_of)
    model = Model(as_of=as_of, companies=companies, persons=people, contracts=contracts, consents=[])
    _add_notes(random.Random(f"{seed}:notes"), model)
    model.consents = _make_consents(random.Random(f"{seed}:consents"), people, as_of)
    return model

