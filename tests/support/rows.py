"""Valid rows of the contract's sources, to be broken one field at a time by the ingestion tests."""

PERSON_HEADER = ("person_id,first_name,last_name,ssn,email,phone,street_address,postal_code,city,customer_type,"
                 "business_id,position,role,relationship_start,relationship_end,updated_at")
GOOD_PERSON = ("P000101,Aino,Virtanen,240385-123T,aino@example.fi,040 123 4567,Katu 1,00100,Helsinki,private,"
               ",,car_user,2019-04-01,,2026-11-19T16:02:11+02:00")


def person(**overrides: str) -> str:
    names = PERSON_HEADER.split(",")
    values = dict(zip(names, GOOD_PERSON.split(",")))
    values.update(overrides)
    return ",".join(values[n] for n in names)


def fuel(**overrides):
    row = {"transaction_id": "F1", "refueled_at": "2026-11-20T07:41:09+02:00", "phone": "+358507654321",
           "registration_number": "ABC-123", "product": "Diesel", "fuel_company": "Neste", "station_name": "S",
           "city": "Vantaa", "liters": 48.2, "amount_eur": 89.9}
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not ...}
