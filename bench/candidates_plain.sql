-- The candidates computation (seed 000, algorithm steps 3-6) as the DuckDB query an analyst
-- would write: bench/candidates_twin.sql without its validation layer. The raw Parquet files
-- are read as they are (no IIN/BIN check digits, no key, enum, uniqueness or interval rules,
-- no reference rule between registries); scope, permits still carrying the old name, the
-- current first head, the four criteria, their precedence and the outcome counts are the
-- twin's, line for line. The plain peer of `sdu candidates`: what the job costs when nothing
-- is checked. On a dirty snapshot its counts may differ from sdu's and the twin's where a row
-- validation would leave out is read (a duplicated key joins twice, a bad identifier joins).
-- Placeholders, filled by bench/candidates.py: {snap} (snapshot folder), {d} (run date),
-- {start} (pilot's first day), {services} (SQL list of service codes), {individuals}
-- (true when the pilot takes individual holders' name changes).
WITH
le AS (
  SELECT bin, status, liquidated_on FROM read_parquet('{snap}/legal_entities.parquet')
),
rn AS (
  SELECT event_id, bin, changed_on, recorded_at FROM read_parquet('{snap}/legal_entity_renames.parquet')
),
hd AS (
  SELECT bin, iin, from_date, to_date FROM read_parquet('{snap}/legal_entity_heads.parquet')
  WHERE role = 'first_head'
),
pm AS (
  SELECT permit_id, service_code, holder_bin, holder_iin, issued_on, valid_until, status
  FROM read_parquet('{snap}/permits.parquet')
),
ind AS (
  SELECT * FROM read_parquet('{snap}/individuals.parquet')
),
ca AS (
  SELECT * FROM read_parquet('{snap}/civil_acts.parquet')
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
-- Two equi-joins rather than the twin's one join on an OR (which DuckDB cannot hash): the
-- same events, as an analyst would write it for speed.
pilot_permits AS (
  SELECT holder_bin, holder_iin, issued_on FROM pm
  WHERE service_code IN {services} AND status = 'active' AND (valid_until IS NULL OR valid_until >= DATE '{d}')
),
eligible AS (
  SELECT e.event_id FROM events e JOIN pilot_permits p ON p.holder_bin = e.holder
  WHERE e.kind = 'rename' AND p.issued_on < e.changed_on
  UNION
  SELECT e.event_id FROM events e JOIN pilot_permits p ON p.holder_iin = e.holder
  WHERE e.kind = 'name_change' AND p.issued_on < e.changed_on
),
heads AS (
  SELECT bin, iin AS head FROM hd
  WHERE from_date <= DATE '{d}' AND (to_date IS NULL OR to_date > DATE '{d}')
    AND bin IN (SELECT bin FROM events)
  QUALIFY row_number() OVER (PARTITION BY bin ORDER BY from_date DESC, iin) = 1
),
-- The people asked about, looked up first (a semi join), as an analyst would for speed:
-- the large registries are probed with a few thousand keys instead of joined whole.
recipients AS (
  SELECT CASE WHEN e.kind = 'rename' THEN h.head ELSE e.holder END AS iin
  FROM events e LEFT JOIN heads h ON h.bin = e.bin
),
people AS (
  SELECT * FROM ind WHERE iin IN (SELECT iin FROM recipients)
),
deaths AS (
  SELECT DISTINCT iin FROM ca WHERE act_type = 'death' AND act_date <= DATE '{d}'
    AND CAST(registered_at AS TIMESTAMP) < CAST(DATE '{d}' + 1 AS TIMESTAMP)
    AND iin IN (SELECT iin FROM recipients)
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
  LEFT JOIN people i ON i.iin = CASE WHEN e.kind = 'rename' THEN h.head ELSE e.holder END
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
