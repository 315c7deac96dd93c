-- school_gate_monthly for the latest month: one row per school.
SELECT * FROM school_gate_monthly WHERE month = (SELECT max(month) FROM months)
