package contacts_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/access"
	"github.com/crmkit/crmkit/contacts"
	"github.com/crmkit/crmkit/core"
	"github.com/crmkit/crmkit/filter"
)

func TestTaskLifecycle(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := b.as(t, "manager", access.RoleAdmin)
		c, err := b.svc.Create(ctx, contacts.NewContact{Email: "ada@example.com"})
		require.NoError(t, err)
		due := b.clock.Now().Add(24 * time.Hour)
		task, err := b.tasks.Create(ctx, contacts.NewTask{Title: "Call Ada back", AssigneeID: "rep-1", ContactID: &c.ID, DueAt: &due})
		require.NoError(t, err)
		require.Equal(t, contacts.TaskOpen, task.Status)
		require.Equal(t, contacts.PriorityNormal, task.Priority)
		require.Equal(t, "manager", task.CreatedBy)

		got, err := b.tasks.Get(ctx, task.ID)
		require.NoError(t, err)
		require.Equal(t, task, got)

		re, err := b.tasks.Reassign(ctx, task.ID, task.Version, "rep-2")
		require.NoError(t, err)
		require.Equal(t, "rep-2", re.AssigneeID)
		_, err = b.tasks.Reassign(ctx, task.ID, task.Version, "rep-3")
		require.ErrorIs(t, err, core.ErrConflict, "stale version")

		up, err := b.tasks.Update(ctx, task.ID, contacts.TaskPatch{Version: re.Version, Priority: ptr(contacts.PriorityUrgent), ClearDueAt: true})
		require.NoError(t, err)
		require.Nil(t, up.DueAt)
		require.Equal(t, contacts.PriorityUrgent, up.Priority)

		done, err := b.tasks.Complete(ctx, task.ID, up.Version)
		require.NoError(t, err)
		require.Equal(t, contacts.TaskDone, done.Status)
		require.NotNil(t, done.CompletedAt)
		again, err := b.tasks.Complete(ctx, task.ID, done.Version)
		require.NoError(t, err)
		require.Equal(t, done.Version, again.Version, "completing a done task changes nothing")
		_, err = b.tasks.Cancel(ctx, task.ID, done.Version)
		require.ErrorIs(t, err, core.ErrInvalid)
		open, err := b.tasks.Reopen(ctx, task.ID, done.Version)
		require.NoError(t, err)
		require.Nil(t, open.CompletedAt)

		evs, err := b.sc.Events(ctx, eventsOf(task.ID))
		require.NoError(t, err)
		require.Equal(t, []string{"task.created", "task.reassigned", "task.updated", "task.completed", "task.reopened"}, types(evs))
		var data map[string]any
		require.NoError(t, json.Unmarshal(evs[1].Data, &data))
		require.Equal(t, "rep-1", data["previous_assignee_id"])

		// A task outlives its contact, unlinked.
		require.NoError(t, b.svc.Delete(ctx, c.ID))
		orphan, err := b.tasks.Get(ctx, task.ID)
		require.NoError(t, err)
		require.Nil(t, orphan.ContactID)

		require.NoError(t, b.tasks.Delete(ctx, task.ID))
		_, err = b.tasks.Get(ctx, task.ID)
		require.ErrorIs(t, err, core.ErrNotFound)
	})
}

func TestTaskRejectsBadInput(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		_, err := b.tasks.Create(ctx, contacts.NewTask{Title: " ", Priority: "asap", ContactID: ptr(core.NewID()), AssigneeID: "a\x00"})
		require.ErrorIs(t, err, core.ErrInvalid)
		for _, f := range []string{"title", "priority", "assignee_id"} {
			require.Contains(t, err.Error(), f)
		}
		_, err = b.tasks.Create(ctx, contacts.NewTask{Title: "x", ContactID: ptr(core.NewID()), CompanyID: ptr(core.NewID())})
		require.ErrorIs(t, err, core.ErrInvalid)
		require.Contains(t, err.Error(), "contact_id")
		require.Contains(t, err.Error(), "company_id")
		page, err := b.tasks.List(ctx, contacts.TaskListOptions{})
		require.NoError(t, err)
		require.Empty(t, page.Items)
	})
}

func TestTaskLists(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		b.clock.Set(now, 0)
		at := func(h int) *time.Time { x := now.Add(time.Duration(h) * time.Hour); return &x }
		mk := func(title, assignee string, due *time.Time) *contacts.Task {
			task, err := b.tasks.Create(ctx, contacts.NewTask{Title: title, AssigneeID: assignee, DueAt: due})
			require.NoError(t, err)
			return task
		}
		mk("overdue-2", "rep-1", at(-2))
		mk("overdue-30", "rep-1", at(-30))
		mk("soon-3", "rep-1", at(3))
		mk("soon-20", "rep-2", at(20))
		mk("later-100", "rep-1", at(100))
		mk("undated", "rep-1", nil)
		closed := mk("done-overdue", "rep-1", at(-5))
		_, err := b.tasks.Complete(ctx, closed.ID, closed.Version)
		require.NoError(t, err)

		titles := func(p core.Page[*contacts.Task], err error) []string {
			require.NoError(t, err)
			out := []string{}
			for _, task := range p.Items {
				out = append(out, task.Title)
			}
			return out
		}
		require.Equal(t, []string{"overdue-30", "overdue-2", "soon-3", "later-100", "undated"},
			titles(b.tasks.Open(ctx, "rep-1", contacts.TaskListOptions{})), "my open tasks, soonest due first, undated last")
		require.Equal(t, []string{"overdue-30", "overdue-2"}, titles(b.tasks.Overdue(ctx, contacts.TaskListOptions{})))
		require.Equal(t, []string{"soon-3", "soon-20"}, titles(b.tasks.DueWithin(ctx, 24*time.Hour, contacts.TaskListOptions{})))
		require.Equal(t, []string{"soon-3"}, titles(b.tasks.DueWithin(ctx, 24*time.Hour, contacts.TaskListOptions{Filter: filter.Eq("assignee_id", "rep-1")})))

		// Paging through "my open tasks" two at a time sees each once, in order.
		var seen []string
		opts := contacts.TaskListOptions{Limit: 2}
		for i := 0; i < 5; i++ {
			p, err := b.tasks.Open(ctx, "rep-1", opts)
			require.NoError(t, err)
			for _, task := range p.Items {
				seen = append(seen, task.Title)
			}
			if p.Next == "" {
				break
			}
			opts.Cursor = p.Next
		}
		require.Equal(t, []string{"overdue-30", "overdue-2", "soon-3", "later-100", "undated"}, seen)

		// Each listed task also satisfies the filter in memory.
		all, err := b.tasks.List(ctx, contacts.TaskListOptions{Limit: 100})
		require.NoError(t, err)
		f := filter.And(filter.Eq("status", "open"), filter.Lt("due_at", "now"))
		n := 0
		for _, task := range all.Items {
			ok, err := contacts.TaskSchema.Match(f, task, now)
			require.NoError(t, err)
			if ok {
				n++
			}
		}
		require.Equal(t, 2, n)
		_, err = b.tasks.DueWithin(ctx, 0, contacts.TaskListOptions{})
		require.ErrorIs(t, err, core.ErrInvalid)
	})
}
