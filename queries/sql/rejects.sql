-- 数据质量: refused rows with their reasons (of one batch, or of the files with data as of the month or earlier; of a district: the rows naming its schools).
SELECT r.batch_id, b.file_name, r.row_no, r.column_name, r.reason, r.row_values
FROM rejects r JOIN batches b USING (batch_id)
WHERE ($batch = '' OR r.batch_id = TRY_CAST($batch AS BIGINT))
  AND ($batch <> '' OR $month = '' OR b.as_of IS NULL OR b.as_of <= last_day(strptime($month || '-01', '%Y-%m-%d')::DATE))
  AND ($district = '' OR r.school_code IN (SELECT school_code FROM school_info WHERE district = $district)
       OR (r.school_code IS NULL AND r.school_name IN (SELECT school_name FROM school_info WHERE district = $district)))
ORDER BY r.batch_id DESC, r.row_no
