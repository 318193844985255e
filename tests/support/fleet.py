"""A hand-made fleet small enough to compute every mart value by hand.

Companies: group parent G (0737546-2) with subsidiary S (1234567-1); O (2345678-0) outside the group. A second
companies file moves S from paper invoices to e-invoicing (a newer version) and brings an older version of O (it
must not win).
Plate ABC-123 moves from contract C000001 (S, cost centre KP-4410, diesel, 2026-01-01..2026-06-30) to C000002
(S, KP-4420, electric, from 2026-07-01). XYZ-9 is a petrol car on C000003 (G, HQ-1000, from 2026-10-01).

Day 1 fuel: F1 diesel into ABC-123 in June (C000001), F2 EV charging of ABC-123 in October (C000002),
F3 diesel into the petrol car XYZ-9 (wrong fuel), F4 a plate without any contract. Web: cookie c1 at 10:00,
10:20 and 10:51 UTC (a 31-minute gap: two sessions), cookie c2 without analytics consent.

Driver Assistant (day 1): P000001 drove XYZ-9 (C000003) on a work trip T1 (60 km) and a leisure trip T2 whose typed
50 km disagree with its odometer (40 km); P000002's work trips T3 and T4 of ABC-123 (C000002) overlap on the
odometer. P000001 has a location_tracking grant and three pings on 2026-11-20; P000002 granted, sent two pings
on 2026-11-05 and withdrew on 2026-11-10. KYC: an identity check of P000003 (private customer) and a beneficial
owner of S who is not in the CRM.

Day 2 (the incremental run): a new EV charge F5, a correction of F3 (31 litres), P000002 changes phone (so F2
no longer resolves to a refueller), a new c1 event at 11:10 and a correction that withdraws consent from the
10:20 event.

Company extracts (``write_extract_neighbours``, only in the ``extract_fleet`` of tests/test_company_extracts.py, so
the marts above keep their hand-computed values): GC (4567890-7), a subsidiary of S and so two levels below G; the
neighbour O gets its own car NBR-7 (C000006) and the car MOV-1, which moves from O (C000004, to 2026-05-31) to S
(C000005, from 2026-06-01), each period with its own refuelling, wash and trip; P000003 leases PRV-1 privately
(C000009). O's driver P000004 and S's new driver P000006 have a henkilötunnus and a home address, P000006 a
marketing consent, web events and a KYC record, and every trip has start and end points.
"""

from __future__ import annotations

from tests.support.dbt import LandingZone as Landing
from ingest.contracts import SOURCES

G, S, O = "0737546-2", "1234567-1", "2345678-0"

COMPANIES_HEADER = ("business_id,name,parent_business_id,street_address,postal_code,city,billing_method,"
                    "e_invoice_address,e_invoice_operator,payment_terms_days,relationship_start,relationship_end,"
                    "updated_at")
PERSONS_HEADER = ("person_id,first_name,last_name,ssn,email,phone,street_address,postal_code,city,customer_type,"
                  "business_id,position,role,relationship_start,relationship_end,updated_at")


def _contracts_csv(rows: list[dict]) -> str:
    cols = SOURCES["contracts"].column_names
    lines = [";".join(cols)]
    for r in rows:
        lines.append(";".join(str(r.get(c, "")) for c in cols))
    return "\n".join(lines) + "\n"


def _contract(cid: str, customer: str, cost_center: str, status: str, start: str, end: str, total: str,
              plate: str, vin: str, power: str, driver: str, km: tuple[int, int, int], notes: str = "") -> dict:
    return {
        "contract_id": cid, "customer_business_id": customer, "contract_type": "Avoin huoltoleasing",
        "status": status, "delivery_date": start, "start_date": start, "end_date": end, "duration_months": 36,
        "residual_value": "10000,00", "lease_rent": total, "service_budget": "0,00", "account_fee": "0,00",
        "total_monthly": total, "included_km": km[0], "start_km": km[1], "latest_odometer_km": km[2],
        "registration_number": plate, "vin": vin, "make": "Make", "model": "Model",
        "first_registration_date": start, "vehicle_class": "passenger_car", "power_source": power,
        "co2_g_km": 100, "cost_center": cost_center, "driver_person_id": driver, "replacement_car_right": "0",
        "notes": notes, "updated_at": "20.11.2026 10:00:00",
    }


def _web(event_id: str, time: str, cookie: str, page: str, consent: bool, user: str | None = None) -> dict:
    return {"event_id": event_id, "event_time": time, "event_type": "page_view", "cookie_id": cookie,
            "user_id": user, "ip_address": "84.250.17.203", "user_agent": "Mozilla/5.0 test",
            "page_url": f"https://www.example.fi{page}?utm=x", "referrer": None, "search_query": None,
            "consent_analytics": consent, "consent_marketing": False}


def _fuel(tid: str, at: str, plate: str, product: str, phone: str, eur: float, liters: float | None = None,
          kwh: float | None = None) -> dict:
    row = {"transaction_id": tid, "refueled_at": at, "phone": phone, "registration_number": plate,
           "product": product, "fuel_company": "Neste", "station_name": "Neste Test", "city": "Vantaa",
           "amount_eur": eur}
    if liters is not None:
        row["liters"] = liters
    if kwh is not None:
        row["kwh"] = kwh
    return row


def write_day1(lz: Landing) -> None:
    lz.write("crm_companies", "companies_1.csv", COMPANIES_HEADER + "\n"
             f"{G},Group Oyj,,Katu 1,00100,Helsinki,email,,,30,2018-01-01,,2026-01-01T10:00:00+02:00\n"
             f"{S},Sub Oy,{G},Tie 2,01510,Vantaa,paper,,,14,2019-01-01,,2026-01-01T10:00:00+02:00\n"
             f"{O},Other Oy,,Tie 3,33100,Tampere,paper,,,14,2019-01-01,,2026-01-01T10:00:00+02:00\n")
    # S moves to e-invoicing (a newer version); O's row here is older than companies_1's and loses
    lz.write("crm_companies", "companies_2.csv", COMPANIES_HEADER + "\n"
             f"{S},Sub Oy,{G},Tie 2,01510,Vantaa,e_invoice,003712345671,003721291126,21,2019-01-01,,"
             "2026-11-15T10:00:00+02:00\n"
             f"{O},Other Oy,,Tie 3,33100,Tampere,e_invoice,003723456780,OKOYFIHH,45,2019-01-01,,"
             "2025-06-01T10:00:00+03:00\n")
    lz.write("crm_persons", "persons_1.csv", PERSONS_HEADER + "\n"
             "P000001,Test,Driver,,driver.one@example.fi,040 111 1111,,,,business_contact,"
             f"{S},Driver,car_user,2026-01-01,,2026-01-01T10:00:00+02:00\n"
             "P000002,Test,Second,,second@example.fi,+358 50 222 2222,,,,business_contact,"
             f"{S},Driver,car_user,2026-01-01,,2026-01-01T10:00:00+02:00\n"
             "P000003,Test,Private,131052-308T,private@example.fi,,Katu 5,00100,Helsinki,private,,,,"
             "2020-01-01,,2026-01-01T10:00:00+02:00\n")
    lz.write("contracts", "contracts_1.csv", _contracts_csv([
        _contract("C000001", S, "KP-4410", "ended", "01.01.2026", "30.06.2026", "500,00", "ABC-123",
                  "WVWZZZ1KZAW000001", "diesel", "P000001", (20000, 0, 12000), "Soita 040 111 1111"),
        _contract("C000002", S, "KP-4420", "active", "01.07.2026", "30.06.2029", "700,00", " abc-123",
                  "YV1XZK9V1R0000002", "electric", "P000002", (60000, 0, 5000)),
        _contract("C000003", G, "HQ-1000", "active", "01.10.2026", "30.09.2029", "300,00", "XYZ-9",
                  "VF1RFB00X45000003", "petrol", "P000001", (45000, 10, 1010)),
    ]))
    lz.write_jsonl("fuel", "fuel_1.jsonl", [
        _fuel("F1", "2026-06-15T10:00:00+03:00", "ABC-123", "Diesel", "040 111 1111", 90.0, liters=50.0),
        _fuel("F2", "2026-10-05T10:00:00+03:00", "abc-123", "EV", "+358502222222", 20.0, kwh=40.0),
        _fuel("F3", "2026-10-10T10:00:00+03:00", "XYZ-9", "Diesel", "0401111111", 55.0, liters=30.0),
        _fuel("F4", "2026-10-11T10:00:00+03:00", "NOP-1", "95E10", "0409999999", 35.0, liters=20.0),
    ])
    lz.write("wash", "wash_1.csv", "wash_id,registration_number,phone,washed_at,wash_program,wash_location\n"
             "W1,ABC-123,+358502222222,2026-10-06T12:00:00+03:00,Juhlapesu,ABC Porvoo\n")
    lz.write_jsonl("web", "web_1.jsonl.gz", [
        _web("E1", "2026-11-20T10:00:00Z", "c1", "/a", True),
        _web("E2", "2026-11-20T10:20:00Z", "c1", "/b", True),
        _web("E3", "2026-11-20T10:51:00Z", "c1", "/c", True, user="P000001"),
        _web("E4", "2026-11-20T10:05:00Z", "c2", "/a", False, user="P000002"),
    ], gz=True)
    write_driver_assistant(lz)


TRIPS_HEADER = ("trip_id,driver_person_id,registration_number,trip_date,start_km,end_km,distance_km,trip_type,"
                "start_point,end_point,added_by,added_at")
KYC_HEADER = ("kyc_id,record_type,person_id,business_id,full_name,ssn,document_type,document_number,"
              "document_expiry,ownership_pct,is_pep,verified_at,verified_by,updated_at")
# P000001's pings of 2026-11-20 (Helsinki centre, a few hundred metres on, then Espoo)
PINGS_P1 = [("L1", "2026-11-20T06:00:00Z", 60.1699, 24.9384), ("L2", "2026-11-20T06:05:00Z", 60.1712, 24.9410),
            ("L3", "2026-11-20T06:30:00Z", 60.2055, 24.6559)]
PINGS_P2 = [("L4", "2026-11-05T07:00:00Z", 60.2934, 25.0378), ("L5", "2026-11-05T07:10:00Z", 60.3172, 24.9633)]


def _ping(ping_id: str, person: str, plate: str, at: str, lat: float, lon: float) -> dict:
    return {"ping_id": ping_id, "person_id": person, "registration_number": plate, "recorded_at": at,
            "lat": lat, "lon": lon, "accuracy_m": 5.0, "speed_kmh": 40.0}


def write_driver_assistant(lz: Landing) -> None:
    """The drive log, location consent and pings, and KYC records of day 1."""
    lz.write("drive_log", "drive_log_1.csv", TRIPS_HEADER + "\n"
             "T1,P000001,XYZ-9,2026-10-15,45000,45060,60,work,\"Keilaranta 1, Espoo\",Lentoasema,driver,"
             "2026-10-15T17:00:00+03:00\n"
             "T2,P000001,xyz-9,2026-10-16,45060,45100,50,leisure,Kotikatu 3,Nuuksio,driver,2026-10-16T20:00:00+03:00\n"
             "T3,P000002,ABC-123,2026-10-20,5000,5040,40,work,,,fleet_manager,2026-10-21T09:00:00+03:00\n"
             "T4,P000002,ABC-123,2026-10-21,5030,5080,50,work,,,driver,2026-10-21T18:00:00+03:00\n")
    lz.write("consents", "consents_1.csv", "consent_event_id,person_id,purpose,channel,action,recorded_at,source\n"
             "LC1,P000001,location_tracking,any,grant,2026-01-01T08:00:00Z,mobile_app\n"
             "LC2,P000002,location_tracking,any,grant,2026-01-01T08:00:00Z,mobile_app\n"
             "LC3,P000002,location_tracking,any,withdraw,2026-11-10T08:00:00Z,mobile_app\n")
    lz.write_jsonl("location", "location_1.jsonl.gz",
                   [_ping(i, "P000001", "XYZ-9", at, lat, lon) for i, at, lat, lon in PINGS_P1]
                   + [_ping(i, "P000002", "ABC-123", at, lat, lon) for i, at, lat, lon in PINGS_P2], gz=True)
    lz.write("kyc", "kyc_1.csv", KYC_HEADER + "\n"
             "KYC1,identity_verification,P000003,,,131052-308T,passport,FP1234567,2031-05-14,,,"
             "2020-01-02T10:00:00+02:00,staff042,2020-01-02T10:00:00+02:00\n"
             f"KYC2,beneficial_owner,,{S},Liisa Omistaja,240385-123T,,,,62.5,false,2019-01-02T10:00:00+02:00,"
             "staff017,2019-01-02T10:00:00+02:00\n")


def write_day2(lz: Landing) -> None:
    lz.write("crm_persons", "persons_2.csv", PERSONS_HEADER + "\n"
             "P000002,Test,Second,,second@example.fi,+358 50 333 3333,,,,business_contact,"
             f"{S},Driver,car_user,2026-01-01,,2026-11-21T10:00:00+02:00\n")
    lz.write_jsonl("fuel", "fuel_2.jsonl", [
        _fuel("F5", "2026-11-01T09:00:00+02:00", "ABC-123", "EV", "+358502222222", 5.0, kwh=10.0),
        _fuel("F3", "2026-10-10T10:00:00+03:00", "XYZ-9", "Diesel", "0401111111", 57.0, liters=31.0),
    ])
    lz.write_jsonl("web", "web_2.jsonl.gz", [
        _web("E5", "2026-11-20T11:10:00Z", "c1", "/d", True),
        _web("E2", "2026-11-20T10:20:00Z", "c1", "/b", False),
    ], gz=True)


GC = "4567890-7"
EXTRACT_PERSONS = {
    # person: (first, last, ssn, email, phone, street address, company)
    "P000004": ("Naapuri", "Kuljettaja", "010190-123M", "neighbour.driver@example.fi", "040 444 4444", "Kotitie 4", O),
    "P000005": ("Lapsen", "Kuljettaja", "", "grandchild.driver@example.fi", "040 555 5555", "", GC),
    "P000006": ("Siirto", "Kuljettaja", "150285-456X", "moved.driver@example.fi", "040 666 6666", "Kotipolku 6", S),
}
# trip: (driver, plate, date, start_km, end_km, type, start point, end point)
EXTRACT_TRIPS = {
    "T5": ("P000004", "NBR-7", "2026-09-12", 9000, 9100, "work", "Naapurinkatu 5", "Tehdas 2"),
    "T6": ("P000004", "MOV-1", "2026-04-12", 7000, 7050, "leisure", "Mökkitie 8", "Järvenranta 3"),
    "T7": ("P000006", "MOV-1", "2026-08-12", 10000, 10120, "work", "Salainen kuja 7", "Asiakas Oy"),
    "T8": ("P000003", "PRV-1", "2026-10-15", 5000, 5030, "leisure", "Yksityistie 9", "Sauna 1"),
    "T9": ("P000005", "GCH-1", "2026-10-16", 1000, 1080, "work", "Lapsikatu 2", "Varasto 4"),
}


def write_extract_neighbours(lz: Landing) -> None:
    """What the company-extract tests add to day 1 (see the module docstring)."""
    lz.write("crm_companies", "companies_1_extract.csv",
             "business_id,name,parent_business_id,street_address,postal_code,city,billing_method,"
             "e_invoice_address,e_invoice_operator,payment_terms_days,relationship_start,relationship_end,updated_at\n"
             f"{GC},Grandchild Oy,{S},Lapintie 7,90100,Oulu,paper,,,14,2021-01-01,,2026-01-01T10:00:00+02:00\n")
    lz.write("crm_persons", "persons_1_extract.csv", PERSONS_HEADER + "\n" + "".join(
        f"{pid},{first},{last},{ssn},{email},{phone},{street},{'02100' if street else ''},{'Espoo' if street else ''},"
        f"business_contact,{company},Driver,car_user,2026-01-01,,2026-01-01T10:00:00+02:00\n"
        for pid, (first, last, ssn, email, phone, street, company) in EXTRACT_PERSONS.items()))
    private = _contract("C000009", "", "", "active", "01.02.2026", "31.01.2029", "400,00", "PRV-1",
                        "ZFA44444444000009", "petrol", "P000003", (30000, 0, 7000))
    private["customer_person_id"] = "P000003"
    lz.write("contracts", "contracts_1_extract.csv", _contracts_csv([
        _contract("C000004", O, "O-100", "ended", "01.01.2026", "31.05.2026", "450,00", "MOV-1",
                  "WBA11111111000004", "diesel", "P000004", (30000, 0, 8000)),
        _contract("C000005", S, "KP-4430", "active", "01.06.2026", "31.05.2029", "650,00", "MOV-1",
                  "WBA11111111000004", "diesel", "P000006", (60000, 8000, 15000)),
        _contract("C000006", O, "O-200", "active", "01.03.2026", "28.02.2029", "350,00", "NBR-7",
                  "TMB22222222000006", "petrol", "P000004", (45000, 0, 9000), "Soita 040 444 4444"),
        _contract("C000008", GC, "GC-1", "active", "01.09.2026", "31.08.2029", "550,00", "GCH-1",
                  "SAJ33333333000008", "electric", "P000005", (40000, 0, 2000)),
        private,
    ]))
    lz.write_jsonl("fuel", "fuel_1_extract.jsonl", [
        _fuel("F6", "2026-09-10T10:00:00+03:00", "NBR-7", "95E10", "040 444 4444", 60.0, liters=40.0),
        _fuel("F7", "2026-04-10T10:00:00+03:00", "MOV-1", "Diesel", "040 444 4444", 70.0, liters=45.0),
        _fuel("F8", "2026-08-10T10:00:00+03:00", "MOV-1", "Diesel", "040 666 6666", 80.0, liters=50.0),
        _fuel("F9", "2026-10-12T10:00:00+03:00", "GCH-1", "EV", "040 555 5555", 15.0, kwh=30.0),
        _fuel("F10", "2026-10-13T10:00:00+03:00", "PRV-1", "95E10", "040 777 7777", 50.0, liters=35.0),
    ])
    lz.write("wash", "wash_1_extract.csv", "wash_id,registration_number,phone,washed_at,wash_program,wash_location\n"
             "W2,NBR-7,040 444 4444,2026-09-11T12:00:00+03:00,Peruspesu,Tampere Hervanta\n"
             "W3,MOV-1,040 444 4444,2026-04-11T12:00:00+03:00,Peruspesu,Tampere Hervanta\n"
             "W4,MOV-1,040 666 6666,2026-08-11T12:00:00+03:00,Juhlapesu,Vantaa Tikkurila\n"
             "W5,PRV-1,040 777 7777,2026-10-14T12:00:00+03:00,Peruspesu,Helsinki Kamppi\n")
    lz.write("drive_log", "drive_log_1_extract.csv", TRIPS_HEADER + "\n" + "".join(
        f"{tid},{driver},{plate},{day},{start},{end},{end - start},{kind},{a},{b},driver,{day}T20:00:00+03:00\n"
        for tid, (driver, plate, day, start, end, kind, a, b) in EXTRACT_TRIPS.items()))
    lz.write("consents", "consents_1_extract.csv",
             "consent_event_id,person_id,purpose,channel,action,recorded_at,source\n"
             "MC6,P000006,direct_marketing,email,grant,2026-02-01T08:00:00Z,web_form\n"
             "PC4,P000004,profiling,any,object,2026-03-01T08:00:00Z,customer_service\n")
    lz.write_jsonl("web", "web_1_extract.jsonl.gz", [
        {**_web("E6", "2026-11-19T09:00:00Z", "c-moved-6", "/sahkoautot", True, user="P000006"),
         "ip_address": "84.250.99.66", "user_agent": "Mozilla/5.0 extract-test", "search_query": "sähköauto leasing"},
    ], gz=True)
    lz.write("kyc", "kyc_1_extract.csv", KYC_HEADER + "\n"
             "KYC3,identity_verification,P000006,,,150285-456X,passport,FP7654321,2032-01-31,,,"
             "2026-06-01T10:00:00+03:00,staff099,2026-06-01T10:00:00+03:00\n"
             f"KYC4,beneficial_owner,,{O},Olli Omistaja,230477-789C,,,,80,false,2019-01-02T10:00:00+02:00,"
             "staff017,2019-01-02T10:00:00+02:00\n")
