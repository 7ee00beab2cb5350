package crm

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/crmkit/crmkit/internal/store"
)

// Copying one table: its rows, tenant by tenant and in batches, checked
// by a checksum of their values read back from the destination.

// tenantsOf lists the tenants with rows in table.
func tenantsOf(ctx context.Context, q store.Q, table string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT tenant_id FROM `+table+` ORDER BY tenant_id /* crm:tenant-listing */`)
	if err != nil {
		return nil, fmt.Errorf("list the tenants of %s: %w", table, err)
	}
	var out []string
	err = store.EachRow(rows, func(s store.Scanner) error {
		var t string
		err := s.Scan(&t)
		out = append(out, t)
		return err
	})
	return out, err
}

// checksum sums the hashes of rows: the same rows give the same sum in
// any order.
type checksum struct {
	rows   int64
	hi, lo uint64
}

func (c *checksum) add(h [sha256.Size]byte) {
	c.rows++
	c.hi += binary.BigEndian.Uint64(h[0:8])
	c.lo += binary.BigEndian.Uint64(h[8:16])
}

func (c checksum) String() string { return fmt.Sprintf("%016x%016x", c.hi, c.lo) }

// copyTable copies one table, tenant by tenant, and checks the copy: the
// rows read back from the destination must sum to the source's checksum.
func copyTable(ctx context.Context, sq store.Q, dtx *store.Tx, p tablePlan, batchSize int) (CopiedTable, []string, error) {
	tenants, err := tenantsOf(ctx, sq, p.name)
	if err != nil {
		return CopiedTable{}, nil, err
	}
	var order []string
	for _, i := range p.pk {
		order = append(order, p.columns[i])
	}
	query := `SELECT ` + strings.Join(p.columns, ", ") + ` FROM ` + p.name + ` WHERE tenant_id = ?`
	if len(order) > 0 {
		query += ` ORDER BY ` + strings.Join(order, ", ")
	}
	var sum checksum
	type selfRef struct{ key, vals []any }
	for _, tenant := range tenants {
		rows, err := sq.Query(ctx, query, tenant)
		if err != nil {
			return CopiedTable{}, nil, fmt.Errorf("read %s: %w", p.name, err)
		}
		var batch [][]any
		var later []selfRef
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			err := dtx.InsertRows(ctx, p.name, p.columns, batch)
			batch = batch[:0]
			return err
		}
		err = store.EachRow(rows, func(s store.Scanner) error {
			vals, h, err := scanRow(s, p)
			if err != nil {
				return err
			}
			sum.add(h)
			if len(p.selfRefs) > 0 {
				r := selfRef{}
				for _, i := range p.pk {
					r.key = append(r.key, vals[i])
				}
				for _, i := range p.selfRefs {
					r.vals = append(r.vals, vals[i])
					vals[i] = nil
				}
				if slices.ContainsFunc(r.vals, func(v any) bool { return v != nil }) {
					later = append(later, r)
				}
			}
			batch = append(batch, vals)
			if len(batch) >= batchSize {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return writeFailed(p.name, err)
		}
		if len(later) > 0 {
			set := make([]string, len(p.selfRefs))
			for j, i := range p.selfRefs {
				set[j] = p.columns[i] + " = ?"
			}
			where := []string{"tenant_id = ?"}
			for _, i := range p.pk {
				if p.columns[i] != "tenant_id" {
					where = append(where, p.columns[i]+" = ?")
				}
			}
			update := `UPDATE ` + p.name + ` SET ` + strings.Join(set, ", ") + ` WHERE ` + strings.Join(where, " AND ")
			for _, r := range later {
				args := append([]any{}, r.vals...)
				args = append(args, tenant)
				for j, i := range p.pk {
					if p.columns[i] != "tenant_id" {
						args = append(args, r.key[j])
					}
				}
				if _, err := dtx.Q().Exec(ctx, update, args...); err != nil {
					return writeFailed(p.name, err)
				}
			}
		}
	}

	// Read the copy back.
	dq := dtx.Q()
	got, err := tenantsOf(ctx, dq, p.name)
	if err != nil {
		return CopiedTable{}, nil, err
	}
	if !slices.Equal(got, tenants) {
		return CopiedTable{}, nil, fmt.Errorf("%s: the destination has rows of tenants %v, the source of %v", p.name, got, tenants)
	}
	var back checksum
	for _, tenant := range got {
		rows, err := dq.Query(ctx, query, tenant)
		if err != nil {
			return CopiedTable{}, nil, fmt.Errorf("read %s back: %w", p.name, err)
		}
		if err := store.EachRow(rows, func(s store.Scanner) error {
			_, h, err := scanRow(s, p)
			if err == nil {
				back.add(h)
			}
			return err
		}); err != nil {
			return CopiedTable{}, nil, fmt.Errorf("read %s back: %w", p.name, err)
		}
	}
	if back != sum {
		return CopiedTable{}, nil, fmt.Errorf("%s does not match: %d rows, checksum %s in the source; %d rows, checksum %s in the destination",
			p.name, sum.rows, sum, back.rows, back)
	}
	return CopiedTable{Name: p.name, Rows: sum.rows, Checksum: sum.String()}, tenants, nil
}

// writeFailed is the error of writing a table's rows.
func writeFailed(table string, err error) (CopiedTable, []string, error) {
	return CopiedTable{}, nil, fmt.Errorf("write %s: %w", table, err)
}

// scanRow reads one row of p, decodes its values into the Go values the
// destination is written with, and hashes their canonical forms.
func scanRow(s store.Scanner, p tablePlan) ([]any, [sha256.Size]byte, error) {
	raw := make([]any, len(p.columns))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	if err := s.Scan(ptrs...); err != nil {
		return nil, [sha256.Size]byte{}, err
	}
	h := sha256.New()
	var buf []byte
	for i, v := range raw {
		val, text, err := decodeValue(p.kinds[i], v)
		if err != nil {
			return nil, [sha256.Size]byte{}, fmt.Errorf("column %s: %w", p.columns[i], err)
		}
		raw[i] = val
		buf = buf[:0]
		buf = append(buf, p.columns[i]...)
		if val == nil {
			buf = append(buf, 0, 'N')
		} else {
			buf = append(buf, 0, 'V')
			buf = binary.BigEndian.AppendUint64(buf, uint64(len(text)))
			buf = append(buf, text...)
		}
		h.Write(buf)
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return raw, out, nil
}
