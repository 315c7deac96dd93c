-- 数据质量: the files loaded with data as of the month or earlier (of a district: the files that count for its schools in some month, and its own uploads; catalogues always), newest first.
-- @title: 已导入的文件
SELECT batch_id, file_name, kind, as_of, loaded_at, rows_total, accepted, rejected, reject_share,
       effective_schools, superseded, unmatched_rows
FROM data_quality
WHERE ($month = '' OR as_of IS NULL OR as_of <= last_day(strptime($month || '-01', '%Y-%m-%d')::DATE))
  AND ($district = '' OR kind = 'catalogue' OR batch_id IN (
        SELECT e.batch_id FROM effective_batches e
        JOIN school_info s ON s.month = e.month AND s.school_code = e.school_code
        WHERE s.district = $district)
       OR batch_id IN (SELECT batch_id FROM batches WHERE loaded_district = $district))
ORDER BY batch_id DESC
