-- The months that have data, newest first.
SELECT month FROM months ORDER BY month DESC
