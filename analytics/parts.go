package analytics

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/store"
)

// On SQLite, reports that read every purchase (RFM, cohorts) split the
// contacts into ranges of ids and read the ranges side by side, each on a
// connection of its own: SQLite runs in this process, one query streams
// its rows on one processor, and its work per row is most of a report's
// time (about 1 µs per purchase). PostgreSQL does a query's work in its
// own processes and plans its own parallelism; with the server on the
// same two processors as the benchmark, ranges made its cohorts slower,
// so there a report runs one query (dialect.InProcess). A contact's rows all fall in one range, so what a report
// computes per contact is unchanged, and the ranges in order give the
// contacts in id order.
//
// The ranges split the ids between the lowest and the highest contact with
// a purchase evenly by the ids' leading 64 bits. Ids are UUIDv7, so that
// is by creation time: contacts created in bursts make uneven ranges,
// which are slower, never wrong. Each range is read in its own read
// transaction, so a purchase committed while a report runs may be seen by
// one range and not by another — a report is consistent per contact, not
// as of one instant. Inside a transaction, or on a pool of one
// connection, a report runs one query as before (store.Q.Fanout).

// maxRanges caps the ranges a report reads at once.
const maxRanges = 4

// idRange is the contact ids from From (inclusive) to To (exclusive); a
// nil bound is open.
type idRange struct {
	from, to *core.ID
}

// where is the range as " AND …" over col, with its arguments.
func (r idRange) where(col string) (string, []any) {
	s, args := "", []any{}
	if r.from != nil {
		s, args = s+" AND "+col+" >= ?", append(args, *r.from)
	}
	if r.to != nil {
		s, args = s+" AND "+col+" < ?", append(args, *r.to)
	}
	return s, args
}

// purchaserRanges splits the ids of the tenant's purchasing contacts into
// at most q.Fanout(maxRanges) ranges that cover every id on SQLite, one
// range elsewhere.
func purchaserRanges(ctx context.Context, q store.Q, tenant string) ([]idRange, error) {
	n := 1
	if q.D.InProcess {
		n = q.Fanout(maxRanges)
	}
	if n == 1 {
		return []idRange{{}}, nil
	}
	// Each is one step into the purchases index (PostgreSQL before 18
	// has no MIN of a uuid).
	var lo, hi uuid.NullUUID
	for _, end := range []struct {
		order string
		id    *uuid.NullUUID
	}{{"", &lo}, {" DESC", &hi}} {
		err := q.QueryRow(ctx, `SELECT contact_id FROM crm_activities WHERE tenant_id = ? AND kind = 'purchase'
			ORDER BY contact_id`+end.order+` LIMIT 1`, tenant).Scan(end.id)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, store.Wrap(err, "purchase ranges")
		}
	}
	return splitIDs(lo, hi, n), nil
}

// splitIDs cuts [lo, hi] into n ranges of equal width in the ids' leading
// 64 bits, the first and last open-ended; one open range when there are
// no ids or too few to split.
func splitIDs(lo, hi uuid.NullUUID, n int) []idRange {
	if !lo.Valid || !hi.Valid {
		return []idRange{{}}
	}
	a, b := binary.BigEndian.Uint64(lo.UUID[:8]), binary.BigEndian.Uint64(hi.UUID[:8])
	step := (b - a) / uint64(n)
	if b <= a || step == 0 {
		return []idRange{{}}
	}
	out := make([]idRange, n)
	var prev *core.ID
	for k := 1; k < n; k++ {
		var cut core.ID
		binary.BigEndian.PutUint64(cut[:8], a+step*uint64(k))
		out[k-1] = idRange{from: prev, to: &cut}
		prev = &cut
	}
	out[n-1] = idRange{from: prev}
	return out
}

// eachRange runs read for every range at once; the first error cancels
// the others' context and is returned.
func eachRange(ctx context.Context, ranges []idRange, read func(ctx context.Context, i int, r idRange) error) error {
	if len(ranges) == 1 {
		return read(ctx, 0, ranges[0])
	}
	g, ctx := errgroup.WithContext(ctx)
	for i, r := range ranges {
		g.Go(func() error { return read(ctx, i, r) })
	}
	return g.Wait()
}
