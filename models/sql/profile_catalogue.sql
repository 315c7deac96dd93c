-- The ability points of the profile's catalogue, in its latest loaded version. Dimensions
-- and environments are also numbered (0, 1, …) so that distinct ones can be counted as bits.
-- @label: 方案的能力点目录
-- @months: fixed
-- @scope: global
-- @doc-order: 280
SELECT code, name, dimension, environment, credits, catalogue,
       (dense_rank() OVER (ORDER BY dimension) - 1)::INTEGER AS dimension_no,
       (dense_rank() OVER (ORDER BY environment) - 1)::INTEGER AS environment_no
FROM abilities
WHERE catalogue = (SELECT catalogue FROM profile)
  AND batch_id = (SELECT max(batch_id) FROM abilities WHERE catalogue = (SELECT catalogue FROM profile))
