-- 数据质量: refused rows with their reasons (of one batch, or all).
SELECT r.batch_id, b.file_name, r.row_no, r.column_name, r.reason, r.row_values
FROM rejects r JOIN batches b USING (batch_id)
WHERE $batch = '' OR r.batch_id = TRY_CAST($batch AS BIGINT)
ORDER BY r.batch_id DESC, r.row_no
