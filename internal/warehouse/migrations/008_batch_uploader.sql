-- Whose upload a batch is: the district or school of the user who uploaded it through the
-- server (both NULL for the command line and the project office). A batch's rejects and the
-- answer to a repeated upload of its bytes belong to the uploader's scope: a district user
-- who uploads another district's roster (every row refused) must not put the refused rows
-- and the file's name in front of that district.
ALTER TABLE batches ADD COLUMN loaded_district VARCHAR;
ALTER TABLE batches ADD COLUMN loaded_school VARCHAR;
-- Uploads made before this migration: the audit trail recorded each loaded upload with its
-- batch id and the uploader's scope (区县:… or 学校:…).
UPDATE batches SET
    loaded_district = (SELECT any_value(substr(a.scope, 4)) FROM audit a
                       WHERE a.action = 'upload' AND a.ok AND a.scope LIKE '区县:%'
                         AND a.detail LIKE 'loaded %'
                         AND TRY_CAST(regexp_extract(a.detail, '批次 (\d+)', 1) AS BIGINT) = batches.batch_id),
    loaded_school = (SELECT any_value(substr(a.scope, 4)) FROM audit a
                     WHERE a.action = 'upload' AND a.ok AND a.scope LIKE '学校:%'
                       AND a.detail LIKE 'loaded %'
                       AND TRY_CAST(regexp_extract(a.detail, '批次 (\d+)', 1) AS BIGINT) = batches.batch_id);
