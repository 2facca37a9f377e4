"""Writes the two state look-up tables shipped in ownercomm_kit/assets (run by hand: python scripts/make_state_tables.py).

The area-code table is read from the geocoding data of the phonenumbers package (pip install phonenumbers);
the ZIP prefix table from the USPS 3-digit prefix ranges listed below.
"""

import phonenumbers as p
from phonenumbers.prefix import _prefix_description_for_number
from phonenumbers.geocoder import GEOCODE_DATA, GEOCODE_LONGEST_PREFIX

RANGES = """
005 NY
006-007 PR
008 VI
009 PR
010-027 MA
028-029 RI
030-038 NH
039-049 ME
050-054 VT
055 MA
056-059 VT
060-069 CT
070-089 NJ
100-149 NY
150-196 PA
197-199 DE
200 DC
201 VA
202-205 DC
206-219 MD
220-246 VA
247-268 WV
270-289 NC
290-299 SC
300-319 GA
320-339 FL
341-349 FL
350-369 AL
370-385 TN
386-397 MS
398-399 GA
400-427 KY
430-459 OH
460-479 IN
480-499 MI
500-528 IA
530-549 WI
550-567 MN
569 DC
570-577 SD
580-588 ND
590-599 MT
600-629 IL
630-658 MO
660-679 KS
680-693 NE
700-714 LA
716-729 AR
730-731 OK
733 TX
734-749 OK
750-799 TX
800-816 CO
820-831 WY
832-838 ID
840-847 UT
850-865 AZ
870-884 NM
885 TX
889-898 NV
900-961 CA
967-968 HI
970-979 OR
980-994 WA
995-999 AK
"""
STATES = {
    "Alabama": "AL",
    "Alaska": "AK",
    "Arizona": "AZ",
    "Arkansas": "AR",
    "California": "CA",
    "Colorado": "CO",
    "Connecticut": "CT",
    "Delaware": "DE",
    "Florida": "FL",
    "Georgia": "GA",
    "Hawaii": "HI",
    "Idaho": "ID",
    "Illinois": "IL",
    "Indiana": "IN",
    "Iowa": "IA",
    "Kansas": "KS",
    "Kentucky": "KY",
    "Louisiana": "LA",
    "Maine": "ME",
    "Maryland": "MD",
    "Massachusetts": "MA",
    "Michigan": "MI",
    "Minnesota": "MN",
    "Mississippi": "MS",
    "Missouri": "MO",
    "Montana": "MT",
    "Nebraska": "NE",
    "Nevada": "NV",
    "New Hampshire": "NH",
    "New Jersey": "NJ",
    "New Mexico": "NM",
    "New York": "NY",
    "North Carolina": "NC",
    "North Dakota": "ND",
    "Ohio": "OH",
    "Oklahoma": "OK",
    "Oregon": "OR",
    "Pennsylvania": "PA",
    "Rhode Island": "RI",
    "South Carolina": "SC",
    "South Dakota": "SD",
    "Tennessee": "TN",
    "Texas": "TX",
    "Utah": "UT",
    "Vermont": "VT",
    "Virginia": "VA",
    "Washington State": "WA",
    "Washington": "WA",
    "West Virginia": "WV",
    "Wisconsin": "WI",
    "Wyoming": "WY",
    "Washington D.C.": "DC",
}
rows = []
for line in RANGES.split("\n"):
    if not line.strip():
        continue
    r, st = line.split()
    a, _, b = r.partition("-")
    for z in range(int(a), int(b or a) + 1):
        rows.append((f"{z:03d}", st))
with open("ownercomm_kit/assets/zip3_states.csv", "w") as f:
    f.write("# 3-digit ZIP Code prefixes (sectional center facilities) and the state or territory they serve.\n")
    f.write("# Source: USPS 3-digit ZIP Code prefix assignments (public domain; USPS Domestic Mail Manual\n")
    f.write("# labeling list L002, 3-Digit ZIP Code Prefix Matrix), cross-checked against the state ZIP ranges\n")
    f.write("# of the Faker package. Military (AA, AE, AP) prefixes and 969 (shared by Guam and the Pacific\n")
    f.write("# islands) are left out: a ZIP starting with one of them gets no state. Unassigned prefixes\n")
    f.write("# inside a state's range are kept with that state.\n")
    f.write("zip3,state\n")
    for z, st in rows:
        f.write(f"{z},{st}\n")
out = []
for npa in range(200, 1000):
    n = p.PhoneNumber(country_code=1, national_number=int(f"{npa}0000000"))
    d = _prefix_description_for_number(GEOCODE_DATA, GEOCODE_LONGEST_PREFIX, n, "en")
    if not d:
        continue
    if d in STATES:
        out.append((npa, STATES[d]))
    elif len(d) > 4 and d[-4:-2] == ", " and d[-2:] in STATES.values():
        out.append((npa, d[-2:]))
with open("ownercomm_kit/assets/area_code_states.csv", "w") as f:
    f.write("# US area codes (NPA) and the state they serve.\n")
    f.write(f"# Source: the geocoding data of the phonenumbers package {p.__version__} (Google libphonenumber,\n")
    f.write("# Apache-2.0), entry '1'+NPA in English, state names mapped to USPS codes. Canadian and\n")
    f.write("# Caribbean codes, toll-free and non-geographic codes are left out: a phone with one gets no state.\n")
    f.write("area_code,state\n")
    for npa, st in out:
        f.write(f"{npa},{st}\n")
print(len(rows), len(out))
