package dialect

import "strconv"

// PercentileCont returns the SQL of the aggregate that is the q-quantile
// (0 ≤ q ≤ 1) of expr over a group, by linear interpolation between the
// closest ranks — PostgreSQL's percentile_cont — and whether the database
// has it. SQLite does not (its percentile functions are a compile-time
// extension that modernc's build leaves out): compute it there with
// window functions (ROW_NUMBER and the group's COUNT) instead.
func (d *Dialect) PercentileCont(q float64, expr string) (string, bool) {
	if d.Kind != Postgres {
		return "", false
	}
	return "percentile_cont(" + strconv.FormatFloat(q, 'g', -1, 64) + ") WITHIN GROUP (ORDER BY " + expr + ")", true
}
