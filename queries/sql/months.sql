-- The months that have data, newest first.
-- @title: 月份列表
SELECT month FROM months ORDER BY month DESC
