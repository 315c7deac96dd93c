-- The rule profile of the last refresh.
-- @title: 规则方案
SELECT name, label, catalogue, total_hours_min, online_hours_min, practice_hours_min, practice_hours_cap,
       abilities_min, dimensions_min, require_plan_and_summaries, gate_percent, gate_counts, refreshed_at
FROM profile
