#!/usr/bin/python3
"""Build the reference data that matcherd ships (deploy/reference/*.tsv).

Usage:
    /usr/bin/python3 deploy/reference/build-reference.py [DATA_DIR] [--out OUT_DIR]

DATA_DIR is the shared data directory described by its SOURCES.md (default:
../shared/data relative to the repository root). OUT_DIR defaults to the
directory that holds this script (deploy/reference/).

Standard library only. The output is deterministic: the same input gives
byte-identical files (no timestamps, fixed sort orders, '\n' line ends, UTF-8
without BOM).

Output format (all .tsv files): one header line starting with '#' that names
the columns, then one record per line, fields separated by a single TAB, no
quoting. Tabs, CR and LF inside labels are replaced by a space. Lists inside a
field are joined with '|'.

Bump DERIVATION whenever the way the files are derived changes; it is the
trailing number of the VERSION string the daemon records in its store.
"""

import csv
import hashlib
import os
import sys

DERIVATION = 1
ROME_VERSION = "v460"          # ROME 4.0 version 60 ("25M09"), published 18/09/2025
RNCP_EXPORT_DATE = "2026-02-01"  # France compétences export files dated 2026_02_01
GEO_SNAPSHOT_DATE = "2024-08-19"  # rcarlier/datas.fun snapshot commit date

VERSION = "rome-%s+rncp-%s+geo-%s+%d" % (ROME_VERSION, RNCP_EXPORT_DATE,
                                         GEO_SNAPSHOT_DATE, DERIVATION)

ROME_DIR = os.path.join("rome", "orig")
F_ROME = "unix_referentiel_code_rome_v460_utf8.csv"
F_COMP = "unix_referentiel_competence_v460_utf8.csv"
F_SAV = "unix_referentiel_savoir_v460_utf8.csv"
F_COH = "unix_coherence_item_v460_utf8.csv"
F_MOB = "unix_rubrique_mobilite_v460_utf8.csv"
F_RNCP = os.path.join("rncp", "rncp_industrie.csv")
F_GEO = os.path.join("geo", "communes.csv")
F_OFFERS = os.path.join("offers", "ft_offres_sample.csv")

OUTPUTS = ["communes.tsv", "rome.tsv", "skills.tsv", "rome_skills.tsv",
           "mobility.tsv", "rncp.tsv", "VERSION", "PROVENANCE.md"]


def in_scope(rome):
    """Industry scope of SOURCES.md section 1: H*, I13*, I16*, B1201."""
    return (rome.startswith("H") or rome.startswith("I13")
            or rome.startswith("I16") or rome == "B1201")


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def clean(s):
    """Make a value safe for a TSV field: no TAB/CR/LF, no outer blanks."""
    for ch in ("\t", "\r", "\n"):
        s = s.replace(ch, " ")
    return s.strip()


def clean_list(s):
    """Normalise a '|'-joined list: clean each item, drop empty ones."""
    return "|".join(x for x in (clean(v) for v in s.split("|")) if x)


def write_tsv(path, columns, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("#" + "\t".join(columns) + "\n")
        for row in rows:
            fields = [str(v) for v in row]
            for v in fields:
                if "\t" in v or "\n" in v or "\r" in v:
                    raise ValueError("unclean field %r in %s" % (v, path))
            f.write("\t".join(fields) + "\n")
    return len(rows)


def ogr_key(ogr):
    return int(ogr)


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    repo_root = os.path.dirname(os.path.dirname(here))
    data_dir = os.path.join(os.path.dirname(repo_root), "shared", "data")
    out_dir = here
    args = list(argv[1:])
    while args:
        a = args.pop(0)
        if a == "--out":
            out_dir = args.pop(0)
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            data_dir = a
    data_dir = os.path.abspath(data_dir)
    os.makedirs(out_dir, exist_ok=True)
    rd = lambda *p: read_csv(os.path.join(data_dir, *p))
    warnings = []
    counts = {}

    # ---------------------------------------------------------------- ROME
    rome_rows = rd(ROME_DIR, F_ROME)
    rome_label = {}
    rome_parent = {}
    for r in rome_rows:
        code = r["code_rome"].strip()
        rome_label[code] = clean(r["libelle_rome"])
        rome_parent[code] = r["code_rome_parent"].strip() or code
    if len(rome_label) != 1584:
        warnings.append("expected 1584 ROME codes, got %d" % len(rome_label))
    scope = sorted(c for c in rome_label if in_scope(c))

    counts["rome.tsv"] = write_tsv(
        os.path.join(out_dir, "rome.tsv"), ["code", "label", "parent"],
        [(c, rome_label[c], rome_parent[c]) for c in sorted(rome_label)])

    # ------------------------------------------------------ skills (items)
    kind = {}
    label = {}
    for r in rd(ROME_DIR, F_COMP):
        ogr = r["code_ogr"].strip()
        cat = r["cat_comp"].strip()
        if cat == "Savoir-faire":
            kind[ogr] = "sf"
        elif cat.startswith("Savoir-"):  # "Savoir-être professionnel"
            kind[ogr] = "se"
        else:
            warnings.append("competence %s: unknown cat_comp %r" % (ogr, cat))
            continue
        label[ogr] = clean(r["libelle_competence"])
    for r in rd(ROME_DIR, F_SAV):
        ogr = r["code_ogr_savoir"].strip()
        if ogr in kind:
            warnings.append("OGR %s is both a competence and a savoir" % ogr)
            continue
        kind[ogr] = "sa"
        label[ogr] = clean(r["libelle_savoir"])
    for ogr in kind:
        if not ogr.isdigit():
            raise ValueError("non-numeric OGR code %r" % ogr)

    coh = rd(ROME_DIR, F_COH)
    occupations = {}      # ogr -> set of ROME codes (whole ROME)
    links = {}            # rome -> {ogr: core}
    for r in coh:
        rome = r["code_rome"].strip()
        ogr = r["code_ogr"].strip()
        if ogr not in kind:
            continue      # work-context items (unix_referentiel_contexte_travail)
        occupations.setdefault(ogr, set()).add(rome)
        core = 1 if r["coeur_metier"].strip() == "Principale" else 0
        d = links.setdefault(rome, {})
        d[ogr] = max(core, d.get(ogr, 0))

    skill_set = set()
    for rome in scope:
        skill_set.update(links.get(rome, {}))
    offer_codes = set()
    offers_path = os.path.join(data_dir, F_OFFERS)
    if os.path.exists(offers_path):
        for r in read_csv(offers_path):
            for c in r["competence_codes"].split("|"):
                c = c.strip()
                if c:
                    offer_codes.add(c)
    offer_known = offer_codes & set(kind)
    offer_only = offer_known - skill_set
    skill_set |= offer_known

    skill_rows = [(o, label[o], kind[o], len(occupations.get(o, ())))
                  for o in sorted(skill_set, key=ogr_key)]
    counts["skills.tsv"] = write_tsv(
        os.path.join(out_dir, "skills.tsv"),
        ["ogr", "label", "kind", "occupations"], skill_rows)

    # ---------------------------------------------------------- rome_skills
    # Savoir-faire (sf, including macro-competences) and savoirs (sa) only;
    # savoir-être (se) and work contexts are not rome_skills rows.
    rs_rows = []
    se_links_skipped = 0
    for rome in scope:
        items = links.get(rome, {})
        sel = []
        for ogr, core in items.items():
            if kind[ogr] == "se":
                se_links_skipped += 1
                continue
            sel.append((rome, ogr, core))
        sel.sort(key=lambda t: (-t[2], ogr_key(t[1])))
        rs_rows.extend(sel)
    counts["rome_skills.tsv"] = write_tsv(
        os.path.join(out_dir, "rome_skills.tsv"), ["rome", "ogr", "core"],
        rs_rows)
    romes_with_rows = {r[0] for r in rs_rows}
    missing = [c for c in scope if c not in romes_with_rows]
    if missing:
        warnings.append("scope ROME codes without rome_skills rows: %s"
                        % " ".join(missing))
    parents_in_scope = sorted({rome_parent[c] for c in scope})
    parents_missing = [p for p in parents_in_scope if p not in romes_with_rows]
    if parents_missing:
        warnings.append("parent ROME codes without rome_skills rows: %s"
                        % " ".join(parents_missing))

    # ------------------------------------------------------------ mobility
    mob = []
    for r in rd(ROME_DIR, F_MOB):
        src = r["code_rome"].strip()
        if in_scope(src):
            mob.append((src, r["code_rome_cible"].strip(),
                        int(r["numero_ordre"])))
    mob.sort(key=lambda t: (t[0], t[2], t[1]))
    counts["mobility.tsv"] = write_tsv(
        os.path.join(out_dir, "mobility.tsv"), ["from", "to", "order"], mob)

    # ---------------------------------------------------------------- RNCP
    rncp = []
    unknown_romes = {}
    for r in rd(F_RNCP):
        code = r["code_rncp"].strip()
        level = r["niveau_europeen"].strip() or "0"
        if not level.isdigit():
            raise ValueError("%s: bad level %r" % (code, level))
        actif = r["actif"].strip().upper()
        active = {"ACTIVE": "1", "INACTIVE": "0", "": ""}.get(actif)
        if active is None:
            raise ValueError("%s: bad actif %r" % (code, actif))
        romes = clean_list(r["rome_codes"])
        for c in romes.split("|"):
            if c and c not in rome_label:
                unknown_romes.setdefault(c, 0)
                unknown_romes[c] += 1
        rncp.append((code, clean(r["intitule"]), clean(r["abrege"]), int(level),
                     romes, clean_list(r["remplacee_par"]), active))
    rncp.sort(key=lambda t: t[0])
    counts["rncp.tsv"] = write_tsv(
        os.path.join(out_dir, "rncp.tsv"),
        ["code", "title", "abbrev", "level", "romes", "replaced_by", "active"],
        rncp)

    # ------------------------------------------------------------ communes
    communes = []
    skipped_nocoord = []
    for r in rd(F_GEO):
        if r["type"] not in ("COM", "ARM"):
            continue
        lat, lon = r["latitude"].strip(), r["longitude"].strip()
        if not lat or not lon:
            skipped_nocoord.append("%s %s" % (r["code_insee"], r["nom"]))
            continue
        pop = r["population_2021"].strip() or "0"
        communes.append((r["code_insee"].strip(), r["code_postal"].strip(),
                         clean(r["nom"]), "%.5f" % float(lat),
                         "%.5f" % float(lon), r["code_departement"].strip(),
                         r["code_region"].strip(), int(pop)))
    communes.sort(key=lambda t: (t[0], t[1]))
    keys = [(t[0], t[1]) for t in communes]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate (insee, postal) in communes")
    counts["communes.tsv"] = write_tsv(
        os.path.join(out_dir, "communes.tsv"),
        ["insee", "postal", "name", "lat", "lon", "dept", "region", "pop"],
        communes)

    # ------------------------------------------------------------- VERSION
    with open(os.path.join(out_dir, "VERSION"), "w", encoding="utf-8",
              newline="\n") as f:
        f.write(VERSION + "\n")

    stats = {
        "scope": len(scope),
        "parents_in_scope": len(parents_in_scope),
        "subfiches_in_scope": sum(1 for c in scope if rome_parent[c] != c),
        "skills_by_kind": {k: sum(1 for r in skill_rows if r[2] == k)
                           for k in ("sf", "se", "sa")},
        "offer_codes": len(offer_codes),
        "offer_known": len(offer_known),
        "offer_only": len(offer_only),
        "se_links_skipped": se_links_skipped,
        "rncp_level0": sum(1 for r in rncp if r[3] == 0),
        "rncp_notitle": sum(1 for r in rncp if not r[1]),
        "rncp_active": {v: sum(1 for r in rncp if r[6] == v)
                        for v in ("1", "0", "")},
        "rncp_unknown_romes": unknown_romes,
        "rncp_rows_unknown_rome": sum(
            1 for r in rncp
            if any(c not in rome_label for c in r[4].split("|") if c)),
        "communes_skipped": skipped_nocoord,
        "communes_insee": len({t[0] for t in communes}),
        "communes_postal": len({t[1] for t in communes}),
    }
    write_provenance(out_dir, counts, stats)

    for name in OUTPUTS:
        p = os.path.join(out_dir, name)
        print("%-16s %8s rows %10d bytes" % (
            name, counts.get(name, "-"), os.path.getsize(p)))
    print("VERSION %s" % VERSION)
    for w in warnings:
        print("WARNING: " + w, file=sys.stderr)
    return 0


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def write_provenance(out_dir, counts, s):
    def size(name):
        return os.path.getsize(os.path.join(out_dir, name))

    files = ["communes.tsv", "rome.tsv", "skills.tsv", "rome_skills.tsv",
             "mobility.tsv", "rncp.tsv"]
    table = "\n".join(
        "| `%s` | %d | %d | `%s` |" % (n, counts[n], size(n),
                                       sha256(os.path.join(out_dir, n)))
        for n in files)
    unknown = ", ".join("%s (%d)" % (c, n) for c, n in
                        sorted(s["rncp_unknown_romes"].items()))
    k = s["skills_by_kind"]
    a = s["rncp_active"]
    text = PROVENANCE_TEMPLATE.format(
        version=VERSION, derivation=DERIVATION, table=table,
        total=sum(size(n) for n in files),
        scope=s["scope"], parents=s["parents_in_scope"],
        subfiches=s["subfiches_in_scope"],
        n_communes=counts["communes.tsv"], n_insee=s["communes_insee"],
        n_postal=s["communes_postal"],
        skipped="; ".join(s["communes_skipped"]) or "none",
        n_rome=counts["rome.tsv"], n_skills=counts["skills.tsv"],
        sf=k["sf"], se=k["se"], sa=k["sa"],
        offer_codes=s["offer_codes"], offer_known=s["offer_known"],
        offer_only=s["offer_only"],
        n_rs=counts["rome_skills.tsv"], se_skipped=s["se_links_skipped"],
        n_mob=counts["mobility.tsv"], n_rncp=counts["rncp.tsv"],
        level0=s["rncp_level0"], notitle=s["rncp_notitle"],
        act1=a["1"], act0=a["0"], actu=a[""],
        unknown_rows=s["rncp_rows_unknown_rome"], unknown=unknown or "none")
    with open(os.path.join(out_dir, "PROVENANCE.md"), "w", encoding="utf-8",
              newline="\n") as f:
        f.write(text)


PROVENANCE_TEMPLATE = """\
# Reference data: provenance

This file is generated by `build-reference.py`; do not edit it by hand.

Reference version: `{version}` (also in `VERSION`). The daemon records this
string in its store; skill rarity weights and certification links are fixed for
a given version. The trailing number ({derivation}) is the derivation revision
and is bumped whenever `build-reference.py` changes what it writes.

None of this data was written by the Passerelle team. It is real public data,
taken from the shared data directory (`shared/data/`, see its `SOURCES.md` for
full provenance, snapshot commits and caveats) and reshaped by
`build-reference.py`.

## Regenerating

    /usr/bin/python3 deploy/reference/build-reference.py /path/to/shared/data

(default data directory: `../shared/data` relative to the repository root).
Standard library only; the output is byte-for-byte deterministic.

## Format

All `.tsv` files: UTF-8 (no BOM), `\\n` line ends, one header line starting
with `#` naming the columns, then one record per line with fields separated by
one TAB. No quoting; TAB/CR/LF inside labels were replaced by a space. Lists
inside a field are joined with `|`. String keys are sorted bytewise (strcmp
order); OGR codes, which are integers, are sorted numerically.

## Files

| file | rows (without header) | bytes | sha256 |
|---|---|---|---|
{table}

Total: {total} bytes.

The "industry scope" below is that of `SOURCES.md` section 1: every ROME code
starting with `H`, `I13` or `I16`, plus `B1201` ({scope} codes; {subfiches} of
them are v4 sub-fiches whose parent is another code; all {parents} parent codes
of in-scope codes are themselves in scope).

### `communes.tsv` — `insee postal name lat lon dept region pop`

- **Upstream:** INSEE Code officiel géographique (20/02/2024), INSEE "Base du
  comparateur de territoires" (population 2021, 27/06/2024), La Poste / data.gouv.fr
  "Base officielle des codes postaux" (01/08/2024), as assembled by GitHub
  `rcarlier/datas.fun` (snapshot 2024-08-19; that repository states no licence
  of its own). Coordinates are commune centre points.
- **Licence:** Licence Ouverte / Etalab 2.0.
- **Derived from** `shared/data/geo/communes.csv`: one row per
  (code_insee, code_postal) for types `COM` (communes) and `ARM` (municipal
  arrondissements of Paris, Lyon, Marseille). `COMD` rows (former/delegated
  communes, which carry their parent's code and coordinates) are left out.
  Rows without coordinates are left out: {skipped}. lat/lon are printed with 5
  decimals; `dept` and `region` are INSEE codes (`2A`, `971`, ...; `11`, `76`,
  ...); `pop` is the 2021 municipal population.
- {n_communes} rows, {n_insee} distinct INSEE codes, {n_postal} distinct postal
  codes.
- **Resolution rules for the daemon:** an INSEE code may have several rows
  (one per postal code) with identical coordinates: take any. A postal code may
  be shared by several communes: take the row with the largest `pop` (ties:
  the smallest INSEE code). Paris, Lyon and Marseille appear only as their
  arrondissements (751xx, 6938x, 132xx); the whole-commune codes 75056, 69123
  and 13055 are not in the upstream file and therefore do not resolve.

### `rome.tsv` — `code label parent`

- **Upstream:** France Travail, ROME 4.0 open-data export, version 60 ("25M09",
  validated 27/08/2025, published 18/09/2025), `unix_*_v460_utf8.csv`, as
  published on data.gouv.fr (copied from GitHub `PSID-miage/guide-carriere`).
- **Licence:** Licence Ouverte / Etalab 2.0.
- **Derived from** `unix_referentiel_code_rome_v460_utf8.csv`: all {n_rome} ROME
  codes, `label` = `libelle_rome`, `parent` = `code_rome_parent` (equal to
  `code` for codes that are not v4 sub-fiches).

### `skills.tsv` — `ogr label kind occupations`

- **Upstream / licence:** as `rome.tsv` (ROME v460, Etalab 2.0).
- **Derived from** `unix_referentiel_competence`, `unix_referentiel_savoir`
  and `unix_coherence_item` (v460). One row per OGR item that
  `unix_coherence_item` links to at least one ROME code of the industry scope,
  plus the competence codes used by the sample offers
  (`shared/data/offers/ft_offres_sample.csv`, column `competence_codes`) that
  still exist in the v460 competence or savoir files. Work-context items are
  not skills and are left out.
- `kind`: `sf` = savoir-faire (`cat_comp` "Savoir-faire" in the competence
  file, competences and macro-competences), `se` = savoir-être professionnel
  (`cat_comp` "Savoir-être professionnel"), `sa` = savoir (savoir file).
  `label` = `libelle_competence` or `libelle_savoir`.
- `occupations`: the number of distinct ROME codes of the **whole** ROME (all
  1584 codes) that `unix_coherence_item` links to the item. The daemon derives
  each skill's rarity weight from it; it can be 0 for an offer code that no
  v460 fiche uses.
- {n_skills} rows: {sf} sf, {se} se, {sa} sa. Of the {offer_codes} distinct
  offer competence codes, {offer_known} exist in v460; {offer_only} of those
  are not linked to any in-scope ROME code and were added for the offers alone.

### `rome_skills.tsv` — `rome ogr core`

- **Upstream / licence:** as `rome.tsv`.
- **Derived from** `unix_coherence_item` (v460): for every in-scope ROME code,
  every savoir-faire (`sf`) and savoir (`sa`) item linked to it. `core` = 1 when
  `coeur_metier` is "Principale", else 0 ("Émergente" or empty). Savoir-être
  links ({se_skipped} in scope) and work contexts are not included. Rows are
  kept per code as in the data (a sub-fiche's rows are not copied to its
  parent); every parent code in scope has its own rows, which matters because
  RNCP fiches link to parent ("v3-style") codes such as H2913.
- Sorted by `rome`, then `core` descending, then `ogr`. {n_rs} rows.

### `mobility.tsv` — `from to order`

- **Upstream / licence:** as `rome.tsv`.
- **Derived from** `unix_rubrique_mobilite_v460_utf8.csv`: every career move
  whose source `code_rome` is in the industry scope (targets may be outside
  it); `order` = `numero_ordre`. Sorted by `from`, `order`, `to`. {n_mob} rows.

### `rncp.tsv` — `code title abbrev level romes replaced_by active`

- **Upstream:** France compétences, "Répertoire national des certifications
  professionnelles et Répertoire spécifique", CSV export of 2026-02-02 (files
  dated 2026_02_01), data.gouv.fr, via GitHub `naelbordin/hackathon`: ROME links
  (`romes`) and replacements (`replaced_by`, from
  `Ancienne_Nouvelle_Certification`). **Licence:** Licence Ouverte / Etalab 2.0.
- **Titles, levels, abbreviations and the active flag** are not in that export
  snapshot (its `Standard` file could not be obtained). As `SOURCES.md`
  explains, they come, in this order of preference, from: Certif Info open data
  (Réseau des Carif-Oref, 2024 extract, via GitHub
  `mission-apprentissage/tjp-pilotage`, MIT), a France compétences 2021
  "Standard"-like extract `rncp_info.v1.4.csv` (via GitHub
  `mission-apprentissage/tables-correspondances`, MIT) and the "Kit
  apprentissage" of 18/12/2023 (same repository, MIT; DEPP titles in upper
  case). `abbrev` comes from the Kit 2023, else the 2021 extract; `active` from
  the Kit 2023, else the 2021 extract, and can be out of date: check
  `replaced_by` as well.
- **Derived from** `shared/data/rncp/rncp_industrie.csv`: all {n_rncp} RNCP
  fiches that have at least one ROME code in the industry scope. `level` =
  European level (3 = CAP, 4 = Bac, 5 = Bac+2, ... 8), 0 when unknown
  ({level0} rows). `title` is empty when unknown ({notitle} rows). `active`: 1
  = ACTIVE ({act1}), 0 = INACTIVE ({act0}), empty = unknown ({actu}). `romes` are
  the ROME codes of the 2026 export (parent codes), `|`-joined, and may
  include codes outside the industry scope. {unknown_rows} rows also list codes
  that are not ROME v460 fiches (domain-level codes kept as published, to be
  ignored by the daemon): {unknown}.

### `VERSION`

One line: `{version}` = ROME version + RNCP export date + geo snapshot date +
derivation revision.
"""

if __name__ == "__main__":
    sys.exit(main(sys.argv))
