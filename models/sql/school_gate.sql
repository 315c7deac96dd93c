-- school_gate_monthly for the latest month: one row per school.
-- @label: 学校95%门槛（最新月）
-- @months: latest
-- @scope: district
-- @counts: true
-- @doc-order: 20
SELECT * FROM school_gate_monthly WHERE month = (SELECT max(month) FROM months)
