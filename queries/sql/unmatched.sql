-- 数据质量: rows for people on no roster.
SELECT kind, file_name, row_no, school_code, name, id_masked FROM unmatched_rows ORDER BY file_name, row_no
