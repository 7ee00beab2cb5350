package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/crmkit/crmkit/internal/dialect"
)

// Idempotency keys (crm_idempotency_keys) let a client send a create again
// and get the first answer instead of a second record: the HTTP API claims
// a key before it runs the request and keeps the answer after.

// IdempotencyTTL is how long a key's answer is kept.
const IdempotencyTTL = 24 * time.Hour

// Answer is a request's kept answer.
type Answer struct {
	// RequestHash tells the request the key was first used with.
	RequestHash string
	// Status is 0 while the first request runs.
	Status int
	ETag   string
	Body   string
}

// ClaimIdempotencyKey claims key for a request of hash in tenant: nil
// when the key is new (run the request, then KeepAnswer or ReleaseKey),
// else the answer kept for it (Status 0: the first request still runs).
func ClaimIdempotencyKey(ctx context.Context, rt *Runtime, tenant, key, hash string) (*Answer, error) {
	sc := NewScope(rt).WithTenant(tenant)
	var out *Answer
	err := sc.Write(ctx, func(ctx context.Context, tx *Tx) error {
		q := tx.Q()
		now := rt.Now()
		if _, err := q.Exec(ctx, `DELETE FROM crm_idempotency_keys WHERE tenant_id = ? AND created_at < ?`, tenant, now.Add(-IdempotencyTTL)); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `INSERT INTO crm_idempotency_keys (tenant_id, key, request_hash, created_at) VALUES (?, ?, ?, ?)`,
			tenant, key, hash, now)
		if err == nil {
			return nil
		}
		if !dialect.IsUniqueViolation(err) {
			return err
		}
		return errKeyTaken
	})
	if !errors.Is(err, errKeyTaken) {
		return nil, err
	}
	// Read the kept answer outside the failed insert's transaction.
	var a Answer
	err = NewScope(rt).WithTenant(tenant).Q().QueryRow(ctx, `SELECT request_hash, status, etag, body FROM crm_idempotency_keys
		WHERE tenant_id = ? AND key = ?`, tenant, key).Scan(&a.RequestHash, &a.Status, &a.ETag, &a.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errors.New("crm: idempotency key released meanwhile; send the request again")
	}
	if err != nil {
		return nil, err
	}
	out = &a
	return out, nil
}

var errKeyTaken = errors.New("idempotency key taken")

// KeepAnswer keeps the answer of the request that claimed key.
func KeepAnswer(ctx context.Context, rt *Runtime, tenant, key string, a Answer) error {
	_, err := NewScope(rt).WithTenant(tenant).Q().Exec(ctx, `UPDATE crm_idempotency_keys SET status = ?, etag = ?, body = ?
		WHERE tenant_id = ? AND key = ?`, a.Status, a.ETag, a.Body, tenant, key)
	return err
}

// ReleaseKey gives a claimed key up (the request failed on the server's
// side: the client may try again).
func ReleaseKey(ctx context.Context, rt *Runtime, tenant, key string) error {
	_, err := NewScope(rt).WithTenant(tenant).Q().Exec(ctx, `DELETE FROM crm_idempotency_keys WHERE tenant_id = ? AND key = ?`, tenant, key)
	return err
}
