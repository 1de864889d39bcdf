"""Synthetic department feeds for one district (重庆市长寿区), for demos, tests and benchmarks.

Not part of the platform: `xinyong generate`, the tests and the benchmark use it.
`synthetic.generate.generate` writes the department feeds under
``out/<feed>/<feed>_<YYYYMMDD>[_<seq>].<csv|xlsx>``, consistent across feeds (every code a
feed points at exists where it should), with the deviations real department files show,
and ``out/.generator_manifest.json`` saying which rows are deliberately bad and which rows
carry a quirk the platform must absorb.

Headers come from the contracts. A feed's generator (`synthetic.feeds.<feed>`) builds
rows keyed by the column names of `connectors/<feed>.yml`; the writers put them in
contract order under the contract's headers and refuse a row with other columns, so the
files cannot drift from the contracts. Quirk files that change a header derive it from the
contract too. A feed with a contract but no generator module is simply not generated
(the manifest lists it under ``feeds_not_generated``), so a new contract does not break
`xinyong generate`; a generator module without a contract is an error.

Modules: `scales` (SCALES), `district` (geography), `names` (name parts), `codes` (USCC
and 身份证号码 check characters), `agencies`, `dates`, `world` (the entities, households and
residents every feed draws from), `quirks` (value formats and the shares of deliberate
deviations), `writers` (CSV, XLSX, headers from the contracts), `manifest`, `run` (what a
feed generator receives), `feeds/` (one module per feed), `generate` (the entry point).

Where the quirks are:

- entity_register: UTF-8 with BOM; names and codes padded with ASCII or full-width spaces
  (valid after trimming); registered capital with thousands separators; a few rows whose
  USCC has a mistyped check character (bad). With ``broken_header=True`` also a second
  file of the day whose 统一社会信用代码 header reads 社会信用代码 (the whole file is bad).
- tax_credit: GB18030; USCCs Excel turned into numbers, ``9.15001E+17`` and 18 digits
  ending in ``000`` (bad); arrears with thousands separators and full-width digits;
  padded names and codes. The same bytes are dropped again as ``tax_credit_<date>_2.csv``.
- penalty: GB18030; dates in the four contract formats; a quoted line break inside
  违法事实; full-width fines (``１２.００``); padded names; 自然人 rows whose 身份证号码 has a
  wrong check digit (bad).
- parking: UTF-8 without BOM, LF line ends; cars still parked (no 离场时间); a second file
  dated as_of + 1 repeating some records with a newer state (欠费 → 催缴后补缴, parked →
  paid); a ``.csv.part`` file dated as_of + 2 cut off mid-line (an upload in progress).
- rural_cooperative, credit_household: XLSX, first sheet, header in row 1, code columns
  as text cells, padded names and codes; 评定年度 is a number cell in credit_household
  and a text cell in rural_cooperative.
- credit_repair: UTF-8 without BOM, CRLF line ends; repairs fall inside the publicity
  window of `dbt_project/seeds/publicity_periods.csv`.

Row numbers in the manifest count records as a CSV reader or a worksheet sees them:
header = row 1, and a record holding a quoted line break is one row.

Determinism: all values come from random generators seeded with ``seed`` (the world from
one, each feed from its own); no clock is read. CSV files are byte-identical for one seed.
XLSX files carry fixed ZIP timestamps and document properties, so they are byte-identical
too wherever zlib compresses the same way; their cell content is identical everywhere.
"""
