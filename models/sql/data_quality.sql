-- Every loaded file: what it held, what was refused, whether it still counts (for how many
-- schools it is the effective file in the latest month) and its rows on no roster.
-- @label: 数据质量（每个文件）
-- @months: latest
-- @scope: recompute
-- @doc-order: 140
WITH cur AS (SELECT * FROM effective_batches WHERE month = (SELECT max(month) FROM months)),
eff AS (SELECT batch_id, count(DISTINCT school_code) AS effective_schools FROM cur GROUP BY batch_id),
um AS (SELECT batch_id, count(DISTINCT row_no) AS unmatched_rows FROM unmatched_rows GROUP BY batch_id)
SELECT b.batch_id, b.file_name, b.kind, b.shape, b.format, b.encoding, b.sheet, b.as_of, b.as_of_source,
       b.school_scope, b.catalogue, b.loaded_at, b.rows_total, b.accepted, b.rejected,
       b.rejected / nullif(b.rows_total, 0) AS reject_share,
       coalesce(eff.effective_schools, 0) AS effective_schools,
       b.kind NOT IN ('catalogue') AND coalesce(eff.effective_schools, 0) = 0 AS superseded,
       coalesce(um.unmatched_rows, 0) AS unmatched_rows
FROM batches b
LEFT JOIN eff ON eff.batch_id = b.batch_id
LEFT JOIN um ON um.batch_id = b.batch_id
