-- 数据质量: every file loaded, newest first.
SELECT batch_id, file_name, kind, as_of, loaded_at, rows_total, accepted, rejected, reject_share,
       effective_schools, superseded, unmatched_rows
FROM data_quality
ORDER BY batch_id DESC
