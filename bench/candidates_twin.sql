-- The candidates computation (seed 000, algorithm steps 3-6) as plain DuckDB SQL over the
-- same Parquet files: the honest twin of `sdu candidates` for one pilot and one day, and the
-- portable form of the plan (any SQL engine with window functions runs it).
-- Placeholders, filled by bench/candidates.py: {snap} (snapshot folder), {d} (run date),
-- {start} (pilot's first day), {services} (SQL list of service codes), {individuals}
-- (true when the pilot takes individual holders' name changes).
-- Staging mirrors the error-severity row rules that matter here: non-null keys, enums,
-- unique keys, from <= to, and the IIN/BIN rules (12 digits, the two-pass mod-11 check
-- digit, a real date part, the kind digits; SCHEMA.md "Identifiers"), as the macros below.
CREATE OR REPLACE TEMP MACRO dg(s, i) AS TRY_CAST(substr(s, i, 1) AS INTEGER);
CREATE OR REPLACE TEMP MACRO check_digit(s) AS CASE
  WHEN (dg(s, 1)*1 + dg(s, 2)*2 + dg(s, 3)*3 + dg(s, 4)*4 + dg(s, 5)*5 + dg(s, 6)*6 + dg(s, 7)*7 + dg(s, 8)*8 + dg(s, 9)*9 + dg(s, 10)*10 + dg(s, 11)*11) % 11 <> 10 THEN (dg(s, 1)*1 + dg(s, 2)*2 + dg(s, 3)*3 + dg(s, 4)*4 + dg(s, 5)*5 + dg(s, 6)*6 + dg(s, 7)*7 + dg(s, 8)*8 + dg(s, 9)*9 + dg(s, 10)*10 + dg(s, 11)*11) % 11
  WHEN (dg(s, 1)*3 + dg(s, 2)*4 + dg(s, 3)*5 + dg(s, 4)*6 + dg(s, 5)*7 + dg(s, 6)*8 + dg(s, 7)*9 + dg(s, 8)*10 + dg(s, 9)*11 + dg(s, 10)*1 + dg(s, 11)*2) % 11 <> 10 THEN (dg(s, 1)*3 + dg(s, 2)*4 + dg(s, 3)*5 + dg(s, 4)*6 + dg(s, 5)*7 + dg(s, 6)*8 + dg(s, 7)*9 + dg(s, 8)*10 + dg(s, 9)*11 + dg(s, 10)*1 + dg(s, 11)*2) % 11 END;
CREATE OR REPLACE TEMP MACRO id_format(s) AS length(s) = 12 AND NOT regexp_matches(s, '[^0-9]');
CREATE OR REPLACE TEMP MACRO iin_ok(s) AS s IS NULL OR (id_format(s) AND check_digit(s) = dg(s, 12)
  AND dg(s, 7) BETWEEN 1 AND 6
  AND TRY_CAST(CAST([1800, 1800, 1900, 1900, 2000, 2000][dg(s, 7)] + TRY_CAST(substr(s, 1, 2) AS INTEGER) AS VARCHAR)
    || '-' || substr(s, 3, 2) || '-' || substr(s, 5, 2) AS DATE) IS NOT NULL);
CREATE OR REPLACE TEMP MACRO bin_ok(s) AS s IS NULL OR (id_format(s) AND check_digit(s) = dg(s, 12)
  AND TRY_CAST(substr(s, 3, 2) AS INTEGER) BETWEEN 1 AND 12 AND dg(s, 5) BETWEEN 4 AND 6 AND dg(s, 6) BETWEEN 0 AND 3);
WITH
le AS (
  SELECT bin, status, liquidated_on FROM read_parquet('{snap}/legal_entities.parquet')
  WHERE bin IS NOT NULL AND bin_ok(bin) AND status IN ('active', 'liquidated', 'reorganizing')
    AND NOT coalesce(registered_on > liquidated_on, false)
  QUALIFY count(*) OVER (PARTITION BY bin) = 1
),
rn AS (
  SELECT event_id, bin, changed_on, recorded_at FROM read_parquet('{snap}/legal_entity_renames.parquet')
  WHERE bin_ok(bin) AND bin IN (SELECT bin FROM le)  -- renames of organizations left out by validation are left out too
  QUALIFY count(*) OVER (PARTITION BY event_id) = 1
),
hd AS (
  SELECT bin, iin, from_date, to_date FROM read_parquet('{snap}/legal_entity_heads.parquet')
  WHERE role = 'first_head' AND bin_ok(bin) AND iin_ok(iin) AND NOT coalesce(from_date > to_date, false)
),
pm AS (
  SELECT permit_id, service_code, holder_bin, holder_iin, issued_on, valid_until, status
  FROM read_parquet('{snap}/permits.parquet')
  WHERE (holder_bin IS NULL) <> (holder_iin IS NULL) AND bin_ok(holder_bin) AND iin_ok(holder_iin)
    AND status IN ('active', 'suspended', 'revoked', 'expired')
    AND NOT coalesce(issued_on > valid_until, false)
  QUALIFY count(*) OVER (PARTITION BY permit_id) = 1
),
ind AS (
  SELECT * FROM read_parquet('{snap}/individuals.parquet')
  WHERE iin IS NOT NULL AND iin_ok(iin) AND sex IN ('m', 'f') AND NOT coalesce(incapable_from > incapable_until, false)
    AND NOT coalesce(imprisoned_from > imprisoned_until, false) AND NOT coalesce(birth_date > death_date, false)
  QUALIFY count(*) OVER (PARTITION BY iin) = 1
),
ca AS (
  SELECT * FROM read_parquet('{snap}/civil_acts.parquet')
  WHERE iin_ok(iin) AND act_type IN ('birth', 'death', 'marriage', 'divorce', 'adoption', 'paternity', 'name_change')
  QUALIFY count(*) OVER (PARTITION BY act_id) = 1
),
events AS (
  SELECT event_id, 'rename' AS kind, bin, bin AS holder, changed_on FROM rn
  WHERE changed_on BETWEEN DATE '{start}' AND DATE '{d}'
    AND CAST(recorded_at AS TIMESTAMP) < CAST(DATE '{d}' + 1 AS TIMESTAMP)
  UNION ALL
  SELECT act_id, 'name_change', NULL, iin, act_date FROM ca
  WHERE {individuals} AND act_type = 'name_change' AND act_date BETWEEN DATE '{start}' AND DATE '{d}'
    AND CAST(registered_at AS TIMESTAMP) < CAST(DATE '{d}' + 1 AS TIMESTAMP)
    AND iin IN (SELECT holder_iin FROM pm WHERE service_code IN {services} AND holder_iin IS NOT NULL)
),
eligible AS (
  SELECT DISTINCT e.event_id FROM events e
  JOIN pm p ON (e.kind = 'rename' AND p.holder_bin = e.holder) OR (e.kind = 'name_change' AND p.holder_iin = e.holder)
  WHERE p.service_code IN {services} AND p.status = 'active'
    AND (p.valid_until IS NULL OR p.valid_until >= DATE '{d}') AND p.issued_on < e.changed_on
),
heads AS (
  SELECT bin, iin AS head FROM hd
  WHERE from_date <= DATE '{d}' AND (to_date IS NULL OR to_date > DATE '{d}')
    AND bin IN (SELECT bin FROM events)
  QUALIFY row_number() OVER (PARTITION BY bin ORDER BY from_date DESC, iin) = 1
),
deaths AS (
  SELECT DISTINCT iin FROM ca WHERE act_type = 'death' AND act_date <= DATE '{d}'
    AND CAST(registered_at AS TIMESTAMP) < CAST(DATE '{d}' + 1 AS TIMESTAMP)
),
judged AS (
  SELECT e.event_id, e.kind,
    e.kind = 'rename' AND l.status = 'liquidated' AND (l.liquidated_on IS NULL OR l.liquidated_on <= DATE '{d}') AS liquidated,
    el.event_id IS NULL AS no_permit,
    e.kind = 'rename' AND h.head IS NULL AS no_head,
    i.iin IS NULL AS not_found,
    i.death_date <= DATE '{d}' OR dd.iin IS NOT NULL OR i.declared_dead_on <= DATE '{d}' OR i.missing_declared_on <= DATE '{d}' AS dead,
    i.emigrated_on <= DATE '{d}' AS abroad,
    i.incapable_from <= DATE '{d}' AND (i.incapable_until IS NULL OR i.incapable_until > DATE '{d}') AS incapable,
    i.imprisoned_from <= DATE '{d}' AND (i.imprisoned_until IS NULL OR i.imprisoned_until > DATE '{d}') AS imprisoned
  FROM events e
  LEFT JOIN le l ON l.bin = e.bin
  LEFT JOIN eligible el ON el.event_id = e.event_id
  LEFT JOIN heads h ON h.bin = e.bin
  LEFT JOIN ind i ON i.iin = CASE WHEN e.kind = 'rename' THEN h.head ELSE e.holder END
  LEFT JOIN deaths dd ON dd.iin = i.iin
)
SELECT CASE
    WHEN liquidated THEN 'org_liquidated'
    WHEN no_permit THEN 'no_pilot_permit'
    WHEN no_head THEN 'no_head'
    WHEN not_found THEN 'recipient_not_found'
    WHEN coalesce(dead, false) THEN 'recipient_dead_or_missing'
    WHEN coalesce(abroad, false) THEN 'recipient_abroad'
    WHEN coalesce(incapable, false) THEN 'recipient_incapable'
    WHEN coalesce(imprisoned, false) THEN 'recipient_imprisoned'
    ELSE 'offered' END AS outcome,
  count(*) AS events
FROM judged GROUP BY ALL ORDER BY outcome;
