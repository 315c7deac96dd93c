-- 数据质量: rows kept but counted for no one (no such school, a masked ID fitting no one or
-- several, a person on no roster), with the reason.
-- @title: 名单外人员的记录
SELECT kind, file_name, row_no, school_code, school_name, name, id_masked, unmatched_reason FROM unmatched_rows ORDER BY file_name, row_no
