package crm

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivershared/uniquestates"
	"github.com/riverqueue/river/rivertype"

	"github.com/crmkit/crmkit/automation"
	"github.com/crmkit/crmkit/internal/store"
)

// Copying crmkit's unfinished River jobs, checked as the tables are.

// unfinishedJobs are the River job states Copy copies.
var unfinishedJobs = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled}

// crmQueues are the River queues of crmkit's jobs: a host's own River
// jobs in the same database are the host's to move.
var crmQueues = []string{automation.QueueRules, automation.QueueWebhooks, automation.QueueJobs}

// jobList lists the unfinished jobs of crmkit's queues, by id.
func jobList(batchSize int) *river.JobListParams {
	return river.NewJobListParams().States(unfinishedJobs...).Queues(crmQueues...).OrderBy(river.JobListOrderByID, river.SortOrderAsc).
		First(min(batchSize, 10000))
}

// copyJobs copies the source's unfinished River jobs into the
// destination's transaction and checks them as copyTable does.
func copyJobs(ctx context.Context, from *river.Client[*sql.Tx], stx *sql.Tx, to *river.Client[*sql.Tx],
	insertJobs func(context.Context, []*riverdriver.JobInsertFullParams) error, dtx *sql.Tx, batchSize int) (CopiedTable, error) {
	var sum checksum
	params := jobList(batchSize)
	for {
		res, err := from.JobListTx(ctx, stx, params)
		if err != nil {
			return CopiedTable{}, fmt.Errorf("list the source's jobs: %w", err)
		}
		if len(res.Jobs) == 0 {
			break
		}
		insert := make([]*riverdriver.JobInsertFullParams, 0, len(res.Jobs))
		for _, j := range res.Jobs {
			if j.State == rivertype.JobStateRunning {
				// Its worker is gone with the source: it runs again.
				j.State = rivertype.JobStateAvailable
			}
			h, err := jobHash(j)
			if err != nil {
				return CopiedTable{}, err
			}
			sum.add(h)
			p := &riverdriver.JobInsertFullParams{Attempt: j.Attempt, AttemptedAt: j.AttemptedAt, AttemptedBy: j.AttemptedBy,
				CreatedAt: &j.CreatedAt, EncodedArgs: j.EncodedArgs, FinalizedAt: j.FinalizedAt, Kind: j.Kind, MaxAttempts: j.MaxAttempts,
				Metadata: j.Metadata, Priority: j.Priority, Queue: j.Queue, ScheduledAt: &j.ScheduledAt, State: j.State, Tags: j.Tags,
				UniqueKey: j.UniqueKey}
			if len(j.UniqueStates) > 0 {
				p.UniqueStates = uniquestates.UniqueStatesToBitmask(j.UniqueStates)
			}
			for _, e := range j.Errors {
				b, err := json.Marshal(e)
				if err != nil {
					return CopiedTable{}, err
				}
				p.Errors = append(p.Errors, b)
			}
			insert = append(insert, p)
		}
		if err := insertJobs(ctx, insert); err != nil {
			return CopiedTable{}, fmt.Errorf("write jobs: %w", err)
		}
		params = params.After(river.JobListCursorFromJob(res.Jobs[len(res.Jobs)-1]))
	}

	var back checksum
	params = jobList(batchSize)
	for {
		res, err := to.JobListTx(ctx, dtx, params)
		if err != nil {
			return CopiedTable{}, fmt.Errorf("read the jobs back: %w", err)
		}
		if len(res.Jobs) == 0 {
			break
		}
		for _, j := range res.Jobs {
			h, err := jobHash(j)
			if err != nil {
				return CopiedTable{}, err
			}
			back.add(h)
		}
		params = params.After(river.JobListCursorFromJob(res.Jobs[len(res.Jobs)-1]))
	}
	if back != sum {
		return CopiedTable{}, fmt.Errorf("the jobs do not match: %d jobs, checksum %s in the source; %d jobs, checksum %s in the destination",
			sum.rows, sum, back.rows, back)
	}
	return CopiedTable{Name: "river_job", Rows: sum.rows, Checksum: sum.String()}, nil
}

// jobHash hashes what a job is, its id aside (the destination numbers
// jobs anew). Times count to the millisecond, River's precision on
// SQLite.
func jobHash(j *rivertype.JobRow) ([sha256.Size]byte, error) {
	args, err := canonicalJSON(orEmpty(j.EncodedArgs))
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("job %d: args: %w", j.ID, err)
	}
	meta, err := canonicalJSON(orEmpty(j.Metadata))
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("job %d: metadata: %w", j.ID, err)
	}
	ms := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
	}
	errs := make([]string, len(j.Errors))
	for i, e := range j.Errors {
		errs[i] = fmt.Sprintf("%d|%s|%s|%s", e.Attempt, ms(&e.At), e.Error, e.Trace)
	}
	states := make([]string, len(j.UniqueStates))
	for i, s := range j.UniqueStates {
		states[i] = string(s)
	}
	slices.Sort(states)
	fields := []string{j.Kind, j.Queue, string(j.State), strconv.Itoa(j.Priority), strconv.Itoa(j.Attempt), strconv.Itoa(j.MaxAttempts),
		args, meta, strings.Join(j.Tags, ","), strings.Join(j.AttemptedBy, ","), ms(&j.CreatedAt), ms(&j.ScheduledAt), ms(j.AttemptedAt),
		ms(j.FinalizedAt), hex.EncodeToString(j.UniqueKey), strings.Join(states, ","), strings.Join(errs, "\x1e")}
	h := sha256.New()
	for _, f := range fields {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(f))))
		h.Write([]byte(f))
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out, nil
}

// insertJobsPostgres writes jobs into River's table on PostgreSQL as
// River's own JobInsertFull does, but with the unique key bound as bytes:
// River's database/sql driver passes it as text, which a binary key (a
// SHA-256) does not survive.
func insertJobsPostgres(ctx context.Context, q store.Q, jobs []*riverdriver.JobInsertFullParams) error {
	for _, j := range jobs {
		var errs []string
		for _, e := range j.Errors {
			errs = append(errs, string(e))
		}
		var key any
		if len(j.UniqueKey) > 0 {
			key = j.UniqueKey
		}
		if _, err := q.Exec(ctx, `INSERT INTO river_job (args, attempt, attempted_at, attempted_by, created_at, errors, finalized_at, kind,
			max_attempts, metadata, priority, queue, scheduled_at, state, tags, unique_key, unique_states)
			VALUES (CAST(? AS jsonb), ?, ?, CAST(? AS text[]), ?, CAST(CAST(? AS text[]) AS jsonb[]), ?, ?, ?, CAST(? AS jsonb), ?, ?, ?,
			CAST(? AS river_job_state), coalesce(CAST(? AS varchar(255)[]), '{}'), CAST(? AS bytea), CAST(nullif(CAST(? AS integer), 0) AS bit(8)))`,
			string(orEmpty(j.EncodedArgs)), j.Attempt, j.AttemptedAt, j.AttemptedBy, j.CreatedAt, errs, j.FinalizedAt, j.Kind,
			j.MaxAttempts, string(orEmpty(j.Metadata)), j.Priority, j.Queue, j.ScheduledAt, string(j.State), j.Tags, key, int(j.UniqueStates)); err != nil {
			return err
		}
	}
	return nil
}

func orEmpty(b []byte) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}
