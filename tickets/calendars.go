package tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/internal/dialect"
	"github.com/crmkit/crmkit/internal/store"
)

// Calendars are the tenant's business-hours calendars of SLA policies
// (c.Calendars).
type Calendars struct {
	sc store.Scope
}

func newCalendars(sc store.Scope) *Calendars { return &Calendars{sc: sc} }

// NewCalendar is the input of Calendars.Create and Update.
type NewCalendar struct {
	Name     string
	TimeZone string
	Country  string
	Windows  []Window
	Holidays []core.Date
	Closures []Closure
}

const calendarColumns = `k.id, k.name, k.time_zone, k.country, k.windows, k.holidays, k.closures, k.created_at, k.updated_at, k.version`

func scanCalendar(r store.Scanner) (*Calendar, error) {
	var c Calendar
	var windows, holidays, closures []byte
	if err := r.Scan(&c.ID, &c.Name, &c.TimeZone, &c.Country, &windows, &holidays, &closures, &c.CreatedAt, &c.UpdatedAt, &c.Version); err != nil {
		return nil, err
	}
	return &c, decodeCalendar(&c, windows, holidays, closures)
}

// decodeCalendar decodes the JSON columns of a calendar into c.
func decodeCalendar(c *Calendar, windows, holidays, closures []byte) error {
	for _, x := range []struct {
		b   []byte
		dst any
	}{{windows, &c.Windows}, {holidays, &c.Holidays}, {closures, &c.Closures}} {
		if err := json.Unmarshal(x.b, x.dst); err != nil {
			return fmt.Errorf("decode calendar %s: %w", c.ID, err)
		}
	}
	for i := range c.Closures {
		c.Closures[i].From, c.Closures[i].To = c.Closures[i].From.UTC(), c.Closures[i].To.UTC()
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return nil
}

func getCalendar(ctx context.Context, q store.Q, tenant string, id core.ID) (*Calendar, error) {
	c, err := scanCalendar(q.QueryRow(ctx, `SELECT `+calendarColumns+` FROM crm_sla_calendars k WHERE k.tenant_id = ? AND k.id = ?`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, core.NotFound("calendar", id)
	}
	return c, err
}

// check validates in and returns the calendar it describes.
func (in NewCalendar) check(c *Calendar) error {
	c.Name, c.TimeZone, c.Country = strings.TrimSpace(in.Name), strings.TrimSpace(in.TimeZone), strings.ToUpper(strings.TrimSpace(in.Country))
	c.Windows, c.Holidays, c.Closures = in.Windows, in.Holidays, in.Closures
	if c.Windows == nil {
		c.Windows = []Window{}
	}
	if c.Holidays == nil {
		c.Holidays = []core.Date{}
	}
	if c.Closures == nil {
		c.Closures = []Closure{}
	}
	v := &core.ValidationError{}
	if c.Name == "" {
		v.Add("name", "is required")
	}
	v.CheckText("name", c.Name, MaxNameLen)
	for i, cl := range c.Closures {
		v.CheckText(fmt.Sprintf("closures.%d.reason", i), cl.Reason, MaxNameLen)
	}
	c.compile(v)
	return v.Err()
}

// Create stores a calendar and emits "sla_calendar.created". A calendar
// with an unknown time zone, overlapping or malformed windows, an unknown
// country or a closure that ends before it starts is ErrInvalid, every
// problem listed.
func (s *Calendars) Create(ctx context.Context, in NewCalendar) (_ *Calendar, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Calendars.Create")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "sla_calendar", core.NilID, access.Manage); err != nil {
		return nil, err
	}
	c := &Calendar{ID: core.NewID(), Version: 1}
	if err := in.check(c); err != nil {
		return nil, err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		now := tx.Runtime().Now()
		c.CreatedAt, c.UpdatedAt = now, now
		if _, err := tx.Q().Exec(ctx, `INSERT INTO crm_sla_calendars (tenant_id, id, name, time_zone, country, windows, holidays, closures,
			created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			tenant, c.ID, c.Name, c.TimeZone, c.Country, string(store.JSON(c.Windows)), string(store.JSON(c.Holidays)),
			string(store.JSON(c.Closures)), now, now, c.Version); err != nil {
			if dialect.IsUniqueViolation(err) {
				return core.Invalid("name", "a calendar named %q exists", c.Name)
			}
			return err
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventCalendarCreated, SubjectType: "sla_calendar", SubjectID: c.ID,
			OccurredAt: now, Data: store.JSON(c)})
	})
	if err != nil {
		return nil, store.Wrap(err, "create calendar")
	}
	return c, nil
}

// Get returns the calendar with id.
func (s *Calendars) Get(ctx context.Context, id core.ID) (_ *Calendar, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Calendars.Get", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "sla_calendar", id, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	c, err := getCalendar(ctx, s.sc.Q(), tenant, id)
	return c, store.Wrap(err, "get calendar")
}

// List returns the tenant's calendars by name.
func (s *Calendars) List(ctx context.Context) (_ []*Calendar, err error) {
	ctx, span := s.sc.Span(ctx, "tickets.Calendars.List")
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "sla_calendar", core.NilID, access.Read); err != nil {
		return nil, err
	}
	tenant, err := s.sc.Tenant()
	if err != nil {
		return nil, err
	}
	rows, err := s.sc.Q().Query(ctx, `SELECT `+calendarColumns+` FROM crm_sla_calendars k WHERE k.tenant_id = ? ORDER BY k.name, k.id`, tenant)
	if err != nil {
		return nil, store.Wrap(err, "list calendars")
	}
	out := []*Calendar{}
	err = store.EachRow(rows, func(r store.Scanner) error {
		c, err := scanCalendar(r)
		out = append(out, c)
		return err
	})
	return out, store.Wrap(err, "list calendars")
}

// Update replaces the calendar's settings if version is still its
// version, and emits "sla_calendar.updated". Tickets take the new hours
// at their next change.
func (s *Calendars) Update(ctx context.Context, id core.ID, version int64, in NewCalendar) (_ *Calendar, err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Calendars.Update", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "sla_calendar", id, access.Manage); err != nil {
		return nil, err
	}
	if err := core.CheckVersion(version); err != nil {
		return nil, err
	}
	var out *Calendar
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		cur, err := getCalendar(ctx, tx.Q(), tenant, id)
		if err != nil {
			return err
		}
		next := *cur
		if err := in.check(&next); err != nil {
			return err
		}
		next.UpdatedAt = tx.Runtime().Now()
		next.Version = version + 1
		res, err := tx.Q().Exec(ctx, `UPDATE crm_sla_calendars SET name = ?, time_zone = ?, country = ?, windows = ?, holidays = ?, closures = ?,
			updated_at = ?, version = ? WHERE tenant_id = ? AND id = ? AND version = ?`,
			next.Name, next.TimeZone, next.Country, string(store.JSON(next.Windows)), string(store.JSON(next.Holidays)),
			string(store.JSON(next.Closures)), next.UpdatedAt, next.Version, tenant, id, version)
		if err != nil {
			if dialect.IsUniqueViolation(err) {
				return core.Invalid("name", "a calendar named %q exists", next.Name)
			}
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("%w: calendar %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, version)
		}
		out = &next
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventCalendarUpdated, SubjectType: "sla_calendar", SubjectID: id,
			OccurredAt: next.UpdatedAt, Data: store.JSON(out)})
	})
	if err != nil {
		return nil, store.Wrap(err, "update calendar")
	}
	return out, nil
}

// Delete removes the calendar if version is still its version and no
// policy uses it (ErrConflict otherwise), and emits
// "sla_calendar.deleted".
func (s *Calendars) Delete(ctx context.Context, id core.ID, version int64) (err error) {
	ctx, span := s.sc.SpanID(ctx, "tickets.Calendars.Delete", id)
	defer span.End(&err)

	if _, err := check(ctx, s.sc, "sla_calendar", id, access.Manage); err != nil {
		return err
	}
	if err := core.CheckVersion(version); err != nil {
		return err
	}
	err = s.sc.Write(ctx, func(ctx context.Context, tx *store.Tx) error {
		tenant, _ := s.sc.Tenant()
		cur, err := getCalendar(ctx, tx.Q(), tenant, id)
		if err != nil {
			return err
		}
		var used int
		if err := tx.Q().QueryRow(ctx, `SELECT count(*) FROM crm_sla_policies WHERE tenant_id = ? AND calendar_id = ?`, tenant, id).Scan(&used); err != nil {
			return err
		}
		if used > 0 {
			return fmt.Errorf("%w: calendar %s is used by %d SLA policies; change them first", core.ErrConflict, id, used)
		}
		res, err := tx.Q().Exec(ctx, `DELETE FROM crm_sla_calendars WHERE tenant_id = ? AND id = ? AND version = ?`, tenant, id, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("%w: calendar %s is at version %d, not %d; read it again", core.ErrConflict, id, cur.Version, version)
		}
		return tx.Emit(ctx, core.Event{TenantID: tenant, Type: EventCalendarDeleted, SubjectType: "sla_calendar", SubjectID: id,
			Data: store.JSON(Deleted{ID: id})})
	})
	return store.Wrap(err, "delete calendar")
}
