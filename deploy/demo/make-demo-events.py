#!/usr/bin/python3
"""Write the demo population as JSON lines of passerelle.v1.Event.

Graduates of production schools in Tarbes, Toulouse, Bordeaux, Lyon and
Limoges (boilermaking, welding, machining, aeronautics, ceramics CAPs, Bac
Pros and titres professionnels, with real RNCP codes), and vacancies of
aeronautics, mechanics, metalworking and technical-ceramics employers around
Tarbes, Pau, Lacq, Toulouse, Bordeaux and Limoges. Deterministic: the same
file every run. Usage: make-demo-events.py > deploy/demo/population.jsonl
"""
import json
import random

T0 = 1782900000000  # 2026-07-01, ms since the epoch

SCHOOLS = [
    # (school id, commune of the school, where its graduates live)
    ("0650043X", "ep-tarbes", ["65440", "65417", "65286", "65440", "65100"]),
    ("0312345A", "ep-toulouse", ["31555", "31069", "31555"]),
    ("0331234B", "ep-bordeaux", ["33063", "33281", "33063"]),
    ("0691234C", "ep-lyon", ["69381", "69381"]),
    ("0871234D", "ep-limoges", ["87085", "87187"]),
]

CERTS = [
    # (kind, RNCP, level, explicit skills or None to let the daemon infer them)
    ("CERTIFICATION_KIND_CAP", "RNCP27470", 3, ["486590", "106256", "102828", "114828"]),
    ("CERTIFICATION_KIND_CAP", "RNCP27468", 3, None),
    ("CERTIFICATION_KIND_BAC_PRO", "RNCP38337", 4, None),
    ("CERTIFICATION_KIND_TITRE_PROFESSIONNEL", "RNCP34502", 3, ["486590", "102828"]),
    ("CERTIFICATION_KIND_TITRE_PROFESSIONNEL", "RNCP34738", 3, None),
    ("CERTIFICATION_KIND_TITRE_PROFESSIONNEL", "RNCP34135", 3, None),
    ("CERTIFICATION_KIND_BAC_PRO", "RNCP37928", 4, None),
    ("CERTIFICATION_KIND_CAP", "RNCP37700", 3, None),
    ("CERTIFICATION_KIND_BAC_PRO", "RNCP420", 4, None),
    ("CERTIFICATION_KIND_BAC_PRO", "RNCP35697", 4, None),
    ("CERTIFICATION_KIND_CAP", "RNCP579", 3, None),
    ("CERTIFICATION_KIND_CAP", "RNCP36337", 3, None),
]

# Tarbes trains boilermakers and welders above all.
SCHOOL_CERTS = {
    "ep-tarbes": [0, 0, 1, 2, 3, 4, 5, 0, 2],
    "ep-toulouse": [6, 7, 5, 8, 2, 9],
    "ep-bordeaux": [6, 7, 8, 9, 0],
    "ep-lyon": [8, 9, 2],
    "ep-limoges": [10, 11, 10, 1],
}

VACANCIES = [
    # (id, SIRET, sector, ROME codes, commune, max km, required RNCP, min level, contract, positions, required skills)
    ("v-aero-tarbes-soudeur", "31234567800011", "SECTOR_AERONAUTICS", ["H2913"], "65440", 60,
     ["RNCP27470", "RNCP34502", "RNCP34738"], 3, "CONTRACT_TYPE_CDI", 2, [("486590", 2.0)]),
    ("v-aero-tarbes-chaudronnier", "31234567800011", "SECTOR_AERONAUTICS", ["H2902"], "65417", 60,
     [], 3, "CONTRACT_TYPE_CDI", 1, []),
    ("v-meca-pau-usineur", "42345678900012", "SECTOR_MACHINING", ["H2903"], "64445", 80,
     [], 4, "CONTRACT_TYPE_CDD", 1, []),
    ("v-chimie-lacq-soudeur", "53456789000013", "SECTOR_METALWORKING", ["H2913", "H2902"], "64300",
     100, ["RNCP38337", "RNCP27470"], 3, "CONTRACT_TYPE_APPRENTICESHIP", 2, []),
    ("v-aero-blagnac-avionique", "64567890100014", "SECTOR_AERONAUTICS", ["I1602", "H2602"], "31069",
     50, ["RNCP37928", "RNCP37700"], 3, "CONTRACT_TYPE_CDI", 3, []),
    ("v-aero-toulouse-structure", "64567890100014", "SECTOR_AERONAUTICS", ["H2901", "H2909"], "31555",
     60, [], 3, "CONTRACT_TYPE_INTERIM", 2, []),
    ("v-aero-merignac-mecanicien", "75678901200015", "SECTOR_AERONAUTICS", ["I1602"], "33281", 60,
     [], 3, "CONTRACT_TYPE_PROFESSIONALISATION", 1, []),
    ("v-meca-bordeaux-usinage", "86789012300016", "SECTOR_MACHINING", ["H2903"], "33063", 50,
     ["RNCP420", "RNCP35697"], 4, "CONTRACT_TYPE_CDI", 1, []),
    ("v-ceram-limoges-faconnier", "97890123400017", "SECTOR_TECHNICAL_CERAMICS", ["H2803", "B1201"],
     "87085", 60, [], 3, "CONTRACT_TYPE_CDI", 2, []),
    ("v-ceram-yrieix-tourneur", "97890123400017", "SECTOR_TECHNICAL_CERAMICS", ["B1201"], "87187", 50,
     ["RNCP36337"], 3, "CONTRACT_TYPE_APPRENTICESHIP", 1, []),
]


def graduates(rng):
    out = []
    for school_id, source, homes in SCHOOLS:
        picks = SCHOOL_CERTS[source]
        for i, ci in enumerate(picks):
            kind, rncp, level, skills = CERTS[ci]
            gid = "%s-2026-%03d" % (source, i + 1)
            g = {
                "graduateId": gid,
                "schoolId": school_id,
                "certifications": [{"kind": kind, "rncpCode": rncp, "level": level,
                                    "obtainedOn": "2026-06-30"}],
                "home": {"communeCode": homes[i % len(homes)]},
                "mobilityRadiusKm": rng.choice([30, 40, 60, 80]),
                "drivingLicence": rng.random() < 0.6,
            }
            if skills:
                g["skills"] = skills
            if rng.random() < 0.3:
                g["contractTypes"] = ["CONTRACT_TYPE_CDI", "CONTRACT_TYPE_APPRENTICESHIP"]
            if rng.random() < 0.4:
                g["availableFrom"] = "2026-09-01"
            out.append((source, g))
    return out


def vacancy(v):
    (vid, siret, sector, romes, commune, km, rncps, level, contract, positions, req) = v
    body = {
        "vacancyId": vid,
        "employerId": siret,
        "sector": sector,
        "romeCodes": romes,
        "site": {"communeCode": commune},
        "maxDistanceKm": km,
        "contractType": contract,
        "positions": positions,
        "startDate": "2026-09-15",
        "expiresOn": "2027-06-30",
    }
    if rncps:
        body["requiredRncp"] = rncps
    if level:
        body["minLevel"] = level
    if req:
        body["requiredSkills"] = [{"skill": s, "weight": w} for s, w in req]
    return body


def main():
    rng = random.Random(2026)
    n = 0
    for source, g in graduates(rng):
        n += 1
        print(json.dumps({"eventId": "demo-%04d" % n, "source": source,
                          "occurredAtMs": str(T0 + n), "graduateUpsert": {"graduate": g}},
                         ensure_ascii=False))
    for v in VACANCIES:
        n += 1
        print(json.dumps({"eventId": "demo-%04d" % n, "source": "uimm-sud-ouest",
                          "occurredAtMs": str(T0 + n), "vacancyUpsert": {"vacancy": vacancy(v)}},
                         ensure_ascii=False))


if __name__ == "__main__":
    main()
