-- Dimensions and environments nobody at the school has passed a point in.
-- @title: 无人覆盖的维度与环境
SELECT kind, name FROM swot_gaps WHERE school_code = $school ORDER BY kind, name
