-- The school a rejected row names (as the file gives it: its code, else its name, else the
-- file's --school), kept in columns of their own so that a district's view of the rejects
-- can be cut to its schools; row_values keys are the platforms' own headers. Rows rejected
-- before this migration get what their values show under the headers ingest recognises.
ALTER TABLE rejects ADD COLUMN school_code VARCHAR;
ALTER TABLE rejects ADD COLUMN school_name VARCHAR;
UPDATE rejects SET
    school_code = coalesce(
        json_extract_string(row_values, '$."学校代码"'), json_extract_string(row_values, '$."学校编码"'),
        json_extract_string(row_values, '$."单位代码"'), json_extract_string(row_values, '$."学校标识码"'),
        (SELECT b.school_scope FROM batches b WHERE b.batch_id = rejects.batch_id)),
    school_name = coalesce(
        json_extract_string(row_values, '$."学校名称"'), json_extract_string(row_values, '$."单位名称"'),
        json_extract_string(row_values, '$."所在学校"'), json_extract_string(row_values, '$."学校"'),
        json_extract_string(row_values, '$."所在单位"'));
