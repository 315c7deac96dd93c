-- 数据质量: refused rows with their reasons (of one batch, or of the files with data as of the month or earlier; of a district: its own uploads' rows and its schools' uploads', and of the project office's loads the rows naming its schools in the file's month).
-- @title: 拒收的行
WITH d AS (SELECT school_code, school_name, month FROM school_info WHERE district = $district)
SELECT r.batch_id, b.file_name, r.row_no, r.column_name, r.reason, r.row_values
FROM rejects r JOIN batches b USING (batch_id)
WHERE ($batch = '' OR r.batch_id = TRY_CAST($batch AS BIGINT))
  AND ($batch <> '' OR $month = '' OR b.as_of IS NULL OR b.as_of <= last_day(strptime($month || '-01', '%Y-%m-%d')::DATE))
  AND ($district = '' OR b.loaded_district = $district
       OR b.loaded_school IN (SELECT school_code FROM d WHERE month = strftime(b.as_of, '%Y-%m'))
       OR (b.loaded_district IS NULL AND b.loaded_school IS NULL AND (
           r.school_code IN (SELECT school_code FROM d WHERE month = strftime(b.as_of, '%Y-%m'))
           OR (r.school_code IS NULL AND r.school_name IN (SELECT school_name FROM d WHERE month = strftime(b.as_of, '%Y-%m'))))))
ORDER BY r.batch_id DESC, r.row_no
